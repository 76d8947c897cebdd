// F14 — etcd down for 30 s, every node healthy.
// Pass: sessions keep working throughout (no failed login, refresh, logout
// or introspection: every member confirms on the heartbeat stream that it
// lost etcd too and holds the same view, so all keep serving with the view
// frozen); no view change (every node's view revision and view-change count
// are the same after as before); an admin write during the outage answers
// 503; after etcd returns, admin writes work again within 10 s with no node
// restarted, the checker is clean, and a node that logged `stopped serving`
// (a renewal gap as etcd returns) logged `serving` after it.
// Method: 3 nodes; etcd stopped with SIGTERM and started again on the same
// data directory and port.

import { adminToken, updateUser, userIdOf } from '../admin-client.js';
import { failedRequests } from '../availability.js';
import { METRIC_VIEW_CHANGES } from '../topology.js';
import { CLUSTER_REALM, CLUSTER_USERS, clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const OUTAGE_MS = 30_000;
const EDITED = CLUSTER_USERS.at(-1)!;
const WRITES_BACK_LIMIT_MS = 10_000;

scenario('F14: etcd down for 30 s: sessions keep working, no view change, admin writes 503 then back', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const n1 = cluster.node('n1');
  const token = await adminToken(n1.url);
  const id = await userIdOf(n1.url, token, CLUSTER_REALM, EDITED);
  const revisions = await ctx.viewRevisions();
  ctx.expect([...revisions.values()].every((r) => r !== undefined), `every node reports its view revision (${JSON.stringify([...revisions])})`);
  const changes = await cluster.metric(METRIC_VIEW_CHANGES);
  const pids = cluster.nodes.map((n) => n.pid);

  const downAt = clock();
  await cluster.stopEtcd();
  await sleep(OUTAGE_MS / 2);
  const during = await updateUser(n1.url, token, CLUSTER_REALM, id, { firstName: 'during-the-outage' });
  ctx.expect(during === 503, `an admin write while etcd is down answers 503 (got ${during})`);
  await sleep(OUTAGE_MS - (clock() - downAt));

  const backAt = clock();
  await cluster.startEtcd();
  let status: number | 'unknown' = 'unknown';
  await cluster.until('admin writes accepted again', async () => {
    // A fresh admin token: the first one may have expired during the outage.
    const fresh = await adminToken(n1.url).catch(() => token);
    status = await updateUser(n1.url, fresh, CLUSTER_REALM, id, { firstName: 'after-the-outage' });
    return status === 204;
  }, 60_000, 500);
  ctx.within('etcd back → admin writes accepted', clock() - backAt, WRITES_BACK_LIMIT_MS);

  ctx.expectNone(failedRequests(workload.history, { from: downAt, to: clock() }), 'requests failed while etcd was down or coming back');
  await ctx.healSettleVerify();

  ctx.expect(JSON.stringify([...(await ctx.viewRevisions())]) === JSON.stringify([...revisions]), `no view change: revisions before ${JSON.stringify([...revisions])}, after ${JSON.stringify([...(await ctx.viewRevisions())])}`);
  ctx.expect(JSON.stringify([...(await cluster.metric(METRIC_VIEW_CHANGES))]) === JSON.stringify([...changes]), `no view change counted: before ${JSON.stringify([...changes])}`);
  ctx.expect(cluster.nodes.every((n, i) => n.pid === pids[i]), 'no node restarted');
  // An operator reads from the log whether a node serves: a node that logged a stop logged its return.
  for (const node of cluster.nodes) {
    const last = node.logEntries().filter((e) => e.msg === 'stopped serving' || e.msg === 'serving').at(-1);
    ctx.expect(last?.msg !== 'stopped serving', `${node.id} logged that it serves again after ${JSON.stringify(last)}`);
  }
});
