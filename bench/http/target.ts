// What the load is aimed at: a local sessiond node started for the scenario
// (a separate process on a temp data dir with free ports) or an external
// Keycloak-compatible server (--target). Either way the scenarios only see a
// Target: an origin, the realm paths and the client and user credentials.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpOptions } from './options.js';
import { freePorts, inTempDir, profileArgs, ServerProcess, waitForHttp200 } from './processes.js';
import { writeRealmFile, type RealmSpec } from './realm-file.js';

/** dist/bench/http/target.js -> dist/src/main.js */
const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
/** A 1,000-user realm imports in a second or two; leave room for a loaded machine. */
const NODE_READY_TIMEOUT_MS = 120_000;

export interface Target {
  /** `http://host:port` */
  origin: string;
  /** Path prefix before /realms (`/auth` on old Keycloak), usually empty. */
  basePath: string;
  client: string;
  secret: string;
  usersPrefix: string;
  password: string;
  users: number;
  local: boolean;
  /** `Basic ...` for client_secret_basic (RFC 6749 §2.3.1: both parts form-urlencoded). */
  authorization: string;
}

export function basicAuthorization(client: string, secret: string): string {
  const encode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(client)}:${encode(secret)}`).toString('base64')}`;
}

export const paths = {
  token: (t: Target, realm: string): string => `${t.basePath}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token`,
  introspect: (t: Target, realm: string): string => `${t.basePath}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/token/introspect`,
  logout: (t: Target, realm: string): string => `${t.basePath}/realms/${encodeURIComponent(realm)}/protocol/openid-connect/logout`,
};

export function externalTarget(options: HttpOptions): Target {
  const url = new URL(options.target!);
  return {
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    client: options.client,
    secret: options.secret,
    usersPrefix: options.usersPrefix,
    password: options.password,
    users: options.users,
    local: false,
    authorization: basicAuthorization(options.client, options.secret),
  };
}

export interface LocalNode {
  target: Target;
  process: ServerProcess;
  /** Stops the node (SIGTERM, graceful) and removes its temp directory. */
  stop(): Promise<void>;
}

/**
 * Writes the realms into a temp `--import-realm` directory and starts
 * `node dist/src/main.js` on a temp data dir and free ports; resolves when
 * /health/ready answers 200. All realms share the client and user settings.
 */
export async function startLocalNode(
  realms: readonly RealmSpec[],
  options: HttpOptions,
  log: (line: string) => void,
  /** More sessiond flags (e.g. --durability). */
  extraArgs: readonly string[] = [],
): Promise<LocalNode> {
  return inTempDir('node', async (dir, own) => {
    const realmDir = join(dir, 'realms');
    const dataDir = join(dir, 'data');
    await mkdir(realmDir);
    const started = Date.now();
    for (const spec of realms) await writeRealmFile(realmDir, spec);
    log(`realm file(s) written in ${Date.now() - started} ms: ${realms.map((r) => `${r.name} (${r.algorithm}, ${r.users} users, ${r.hashIterations} iterations)`).join(', ')}`);
    const [httpPort, managementPort] = await freePorts(2);
    const args = [
      '--import-realm', realmDir,
      '--data-dir', dataDir,
      '--http-port', String(httpPort),
      '--management-port', String(managementPort),
      // Per-request logging would be part of the measurement; warnings still show in the output kept for errors.
      '--log-level', 'warn',
      ...extraArgs,
      // The load generator is one address: per-address login admission would refuse most of its logins
      // (unless the scenario sets the limit itself, as login-flood does).
      ...(extraArgs.includes('--login-rate-limit') ? [] : ['--login-rate-limit', '0']),
    ];
    const proc = ServerProcess.start('sessiond', MAIN_JS, args, { nodeArgs: profileArgs(options.cpuProf) });
    own(proc);
    const t0 = Date.now();
    await waitForHttp200(`http://127.0.0.1:${managementPort}/health/ready`, NODE_READY_TIMEOUT_MS, () => proc.running).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; sessiond output:\n${proc.output()}`);
    });
    log(`sessiond node pid ${String(proc.pid)} ready in ${Date.now() - t0} ms on 127.0.0.1:${httpPort}`);
    const first = realms[0]!;
    const target: Target = {
      origin: `http://127.0.0.1:${httpPort}`,
      basePath: '',
      client: first.client,
      secret: first.secret,
      usersPrefix: first.usersPrefix,
      password: first.password,
      users: first.users,
      local: true,
      authorization: basicAuthorization(first.client, first.secret),
    };
    return { target, process: proc };
  });
}
