// An in-process sessiond node for the admin-* scenarios: listening on free
// 127.0.0.1 ports, realms imported from Keycloak-format files, sessions
// created straight through node.engine (a million logins over HTTP would
// take far longer than the admin call being measured), and a master-realm
// admin token that outlives the run.

import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseOptions } from '../../src/config/options.js';
import { SessiondNode } from '../../src/node.js';
import { inTempDir } from '../http/processes.js';
import { realmRepresentation, type RealmSpec } from '../http/realm-file.js';
import { flatUuid, ipOf, username } from './data.js';
import { median, percentile } from './stats.js';

/** Sessions created concurrently (as engine-expiry): the shard channels form full batches. */
const CREATE_LANES = 4096;
/** Admin token, and its SSO session, valid for a day: a run never outlives them. */
const ADMIN_LIFESPAN_S = 86_400;

export interface AdminNode {
  node: SessiondNode;
  /** `http://127.0.0.1:<port>` of the public server. */
  origin: string;
  /** Stops the node and removes its directory. */
  stop(): Promise<void>;
}

/** A realm file's content: realmRepresentation() plus extra confidential clients. */
export function realmFile(spec: RealmSpec, extraClients: readonly string[] = []): Record<string, unknown> {
  const rep = realmRepresentation(spec);
  const clients = rep['clients'] as Record<string, unknown>[];
  for (const clientId of extraClients) {
    clients.push({ clientId, enabled: true, publicClient: false, secret: `${clientId}-secret`, standardFlowEnabled: false, directAccessGrantsEnabled: true });
  }
  return rep;
}

/** Starts a node (2 shards, silent log) with the given realm files imported, listening. */
export async function startAdminNode(realms: readonly Record<string, unknown>[]): Promise<AdminNode> {
  return inTempDir('admin', async (dir, own) => {
    const realmDir = join(dir, 'realms');
    await mkdir(realmDir);
    for (const rep of realms) await writeFile(join(realmDir, `${String(rep['realm'])}-realm.json`), JSON.stringify(rep));
    const parsed = parseOptions(
      [
        '--data-dir', join(dir, 'data'),
        '--import-realm', realmDir,
        '--host', '127.0.0.1',
        '--http-port', '0',
        '--management-port', '0',
        '--shards', '2',
        '--log-level', 'silent',
        // The load generator is one address: per-address login admission would refuse most of its logins.
        '--login-rate-limit', '0',
      ],
      {},
    );
    if (parsed.help) throw new Error('unexpected --help');
    const node = await SessiondNode.start({ options: parsed.options, log: pino({ level: 'silent' }) });
    own(node);
    await node.listen();
    return { node, origin: `http://127.0.0.1:${(node.server.server.address() as AddressInfo).port}` };
  });
}

/** Store changes reach the shards through events the writer does not await; a round trip through every shard after them means they arrived. */
async function settle(node: SessiondNode): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await node.engine.stats();
}

/**
 * A master-realm access token of the bootstrap admin (admin/admin through
 * admin-cli), after raising master's access-token lifespan (60 s by default)
 * and SSO session timeouts so that the token lasts the run.
 */
export async function adminToken(a: AdminNode): Promise<string> {
  const master = a.node.store.realmByName('master');
  if (master === undefined) throw new Error('no master realm');
  await a.node.store.updateRealm({
    ...master,
    sessions: { ...master.sessions, accessTokenLifespan: ADMIN_LIFESPAN_S, ssoSessionIdleTimeout: ADMIN_LIFESPAN_S, ssoSessionMaxLifespan: ADMIN_LIFESPAN_S },
  });
  await settle(a.node);
  const res = await fetch(`${a.origin}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || typeof body.access_token !== 'string') throw new Error(`admin token: status ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.access_token;
}

/** The ids of a realm and of its clients, by name and clientId. */
export function realmIds(a: AdminNode, realm: string, clientIds: readonly string[]): { realmId: string; clients: string[] } {
  const record = a.node.store.realmByName(realm);
  if (record === undefined) throw new Error(`realm ${realm} not imported`);
  const clients = clientIds.map((clientId) => {
    const client = a.node.store.clientByClientId(record.id, clientId);
    if (client === undefined) throw new Error(`client ${clientId} not imported`);
    return client.id;
  });
  return { realmId: record.id, clients };
}

/**
 * Creates sessions of users from..to-1 (distinct users `user-<i>`, one client
 * session each, clients round-robin) straight through the engine; logs the rate.
 */
export async function createSessions(
  a: AdminNode,
  target: { realmId: string; clients: readonly string[] },
  from: number,
  to: number,
  log: (line: string) => void,
): Promise<void> {
  const engine = a.node.engine;
  let next = from;
  const lane = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await engine.createSession({
        realm: target.realmId,
        userId: flatUuid(),
        username: username(i),
        ip: ipOf(i),
        client: { client: target.clients[i % target.clients.length]!, scope: 'openid' },
      });
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: Math.min(CREATE_LANES, to - from) }, lane));
  const s = (performance.now() - t) / 1000;
  log(`created sessions ${from.toLocaleString('en-US')}..${(to - 1).toLocaleString('en-US')} in ${s.toFixed(1)} s (${Math.round((to - from) / s).toLocaleString('en-US')}/s)`);
}

/** Online sessions of a realm (the shards' counters). */
export async function onlineCount(a: AdminNode, realmId: string): Promise<number> {
  const stats = await a.node.engine.stats();
  return stats.reduce((sum, s) => sum + (s.realms[realmId]?.[0] ?? 0), 0);
}

export interface Timings {
  samples: number[];
  median: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Timings {
  return { samples, median: median(samples), p99: percentile(samples, 99), max: Math.max(...samples) };
}

export function describe(t: Timings): string {
  return `median ${t.median.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms, max ${t.max.toFixed(2)} ms over ${t.samples.length}`;
}
