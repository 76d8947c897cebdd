// S2 — the cluster over mutual TLS (--grpc-tls-ca, --grpc-tls-cert,
// --grpc-tls-key; docs/cluster.md).
// Pass: three nodes whose certificates one CA signed form the cluster and
// copy every partition (heartbeats, transfers and replication over TLS),
// each logs that it joined with TLS; under load, a `kill -9` of one node and
// its restart lose nothing acknowledged (the checker is clean).
// Method: a CA and a certificate per node made by openssl, naming the
// addresses its peers dial (its fault proxy's, and its own), given through the
// options' environment variables; the mixed workload through random nodes.

import { tempDir } from '../../helpers/temp-dir.js';
import { testCa, type NodePki } from '../../helpers/test-pki.js';
import { PROXY_HOST } from '../proxy-host.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const AFTER_KILL_MS = 4_000;

scenario('S2: nodes over mutual TLS: the cluster forms, fails over and heals with nothing acknowledged lost', async (ctx) => {
  const ca = testCa(tempDir(ctx.t));
  const pki = new Map<string, NodePki>(['n1', 'n2', 'n3'].map((id, i) => [id, ca.issue(id, [PROXY_HOST, `127.0.0.${i + 1}`])]));
  const env = (id: string): Record<string, string> => {
    const files = pki.get(id)!;
    return { SESSIOND_GRPC_TLS_CA: files.ca, SESSIOND_GRPC_TLS_CERT: files.cert, SESSIOND_GRPC_TLS_KEY: files.key };
  };
  const cluster = await ctx.start({ nodeEnv: env });
  for (const node of cluster.nodes) ctx.expect(/"tls":true[^\n]*"joined the cluster"/.test(node.logs()), `${node.id} logs that it joined over TLS`);
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const victim = 'n1';
  workload.route(cluster.ids.filter((id) => id !== victim));
  await cluster.kill(victim, 'SIGKILL');
  await sleep(AFTER_KILL_MS);
  await cluster.restart(victim);
  await ctx.healSettleVerify();
});
