// S2 — the cluster over mutual TLS (--grpc-tls-ca, --grpc-tls-cert,
// --grpc-tls-key; docs/cluster.md).
// Pass: three nodes whose certificates one CA signed form the cluster and
// copy every partition (heartbeats, transfers and replication over TLS),
// each logs that it joined with TLS; under load, the cluster moves to a new
// CA without a restart (every node's files replaced in place and SIGHUP: the
// CA file holding both CAs, then certificates of the new one, then the new
// CA alone), and a `kill -9` of one node and its restart, which trusts the
// new CA only, lose nothing acknowledged (the checker is clean): every node
// presents its new certificate to the new connections.
// Method: a CA and a certificate per node made by openssl, naming the
// addresses its peers dial (its fault proxy's, and its own), given through the
// options' environment variables; the mixed workload through random nodes.

import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tempDir } from '../../helpers/temp-dir.js';
import { testCa, type NodePki } from '../../helpers/test-pki.js';
import { PROXY_HOST } from '../proxy-host.js';
import type { Cluster } from '../harness.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const AFTER_KILL_MS = 4_000;
const RELOAD_LOGGED_MS = 5_000;
const RELOADED = 'cluster certificates reloaded: new connections use them';

/** SIGHUP to every node, then waits until each has logged its `count`-th reload; false if one did not in time. */
async function reloadAll(cluster: Cluster, count: number): Promise<boolean> {
  for (const node of cluster.nodes) await node.kill('SIGHUP');
  const deadline = Date.now() + RELOAD_LOGGED_MS;
  const done = (): boolean => cluster.nodes.every((node) => node.logs().split(RELOADED).length - 1 >= count);
  while (!done() && Date.now() < deadline) await sleep(50);
  return done();
}

scenario('S2: nodes over mutual TLS: the cluster forms, fails over and heals with nothing acknowledged lost', async (ctx) => {
  const dir = tempDir(ctx.t);
  const ca = testCa(dir);
  const addresses = (i: number): string[] => [PROXY_HOST, `127.0.0.${i + 1}`];
  const pki = new Map<string, NodePki>(['n1', 'n2', 'n3'].map((id, i) => [id, ca.issue(id, addresses(i))]));
  const env = (id: string): Record<string, string> => {
    const files = pki.get(id)!;
    return { SESSIOND_GRPC_TLS_CA: files.ca, SESSIOND_GRPC_TLS_CERT: files.cert, SESSIOND_GRPC_TLS_KEY: files.key };
  };
  const cluster = await ctx.start({ nodeEnv: env });
  for (const node of cluster.nodes) ctx.expect(/"tls":true[^\n]*"joined the cluster"/.test(node.logs()), `${node.id} logs that it joined over TLS`);
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const oldCa = readFileSync(ca.ca);
  const next = testCa(dir, 'next-ca');
  writeFileSync(ca.ca, Buffer.concat([oldCa, readFileSync(next.ca)]));
  ctx.expect(await reloadAll(cluster, 1), 'every node took the CA bundle (old and new)');
  cluster.ids.forEach((id, i) => {
    const renewed = next.issue(id, addresses(i));
    copyFileSync(renewed.cert, pki.get(id)!.cert);
    copyFileSync(renewed.key, pki.get(id)!.key);
  });
  ctx.expect(await reloadAll(cluster, 2), 'every node took its certificate of the new CA');
  copyFileSync(next.ca, ca.ca);
  ctx.expect(await reloadAll(cluster, 3), 'every node took the new CA alone');

  const victim = 'n1';
  workload.route(cluster.ids.filter((id) => id !== victim));
  await cluster.kill(victim, 'SIGKILL');
  await sleep(AFTER_KILL_MS);
  await cluster.restart(victim);
  await ctx.healSettleVerify();
});
