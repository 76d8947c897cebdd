// S5 — three copies of every partition (`--owners 3`), a backup back late
// after a whole-cluster restart, then two of the three nodes killed.
// Pass: after every node is killed at once, two restarted and the third
// brought back within the restart grace with its disk holding nothing of one
// partition (a copy it never finished, or lost), the primaries that served
// while it was away send it their partitions again (a resync: it missed the
// replies they released without it), so its copy is whole again without the
// copy checks (`--copy-check-period 0` here), and it reports ready only
// once they have (it used to say ready at once while the resync ran, so a
// maintenance that waited for its readiness could take down the only whole
// copies); then the other two are killed with `kill -9` at once and the late
// node, alone, serves every partition:
// a probe session of the erased partition refreshes through it, no partition
// is counted lost, and the checker finds no acknowledged login, logout or
// rotation missing — including those the first two acknowledged while it was
// away.
// Method: 3 nodes, owners 3 (every node holds every partition); the
// workload runs throughout and follows the nodes that are up; 16 probe
// sessions logged in apart from it, the first one's partition erased from the
// disk of its top-ranked backup while every node is down.
// S5b — a rolling restart with owners 3 (F6's steps, with fewer sessions):
// each leave hands its primaries to the two other owners, each return waits
// for its third copies. Pass: as F6 (no session lost, no failed request, each
// node ready again within 15 s, the others ready throughout).

import { LEASE_TTL_S } from '../../../src/cluster/control-plane.js';
import { RESTART_GRACE_MS } from '../../../src/cluster/cluster-member.js';
import { failedRequests } from '../availability.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import { refreshGrant } from '../workload.js';
import { eraseCopy, loginProbes, placement } from './probes.js';
import { rollingRestart } from './rolling.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const DOWN_MS = LEASE_TTL_S * 1000 + 1_000;
/** How long the late node stays away after the others are back: well inside the restart grace. */
const AWAY_MS = 4_000;
const SERVED_ALONE_WITHIN_MS = 15_000;
const AFTER_KILL_MS = 6_000;
const TRANSFERRED = 'sessiond_state_transfer_sessions_total';
const ROLLING_SESSIONS = 2_000;
const READY_AGAIN_LIMIT_MS = 15_000;

scenario('S5: owners 3: a backup back late after a whole-cluster restart is sent its partitions again, then serves them alone when the other two die', async (ctx) => {
  const cluster = await ctx.start({ owners: 3, extraArgs: ['--copy-check-period', '0'] });
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const probes = await loginProbes(ctx, cluster, 'n1');
  const where = await placement(cluster, probes[0]!.sid, 'n1');
  ctx.expect(where.partition === probes[0]!.partition && where.backups.length === 2, `where the probe session lives: ${JSON.stringify(where)}`);
  const late = where.backups[0]!;
  const others = cluster.ids.filter((id) => id !== late);

  await Promise.all(cluster.ids.map((id) => cluster.kill(id, 'SIGKILL')));
  await sleep(DOWN_MS);
  await eraseCopy(cluster.node(late).spec.dataDir, where.partition);
  ctx.log(`erased partition ${where.partition} from ${late}'s disk (its primary is ${where.primary}); ${others.join(' and ')} restart first`);
  workload.route(others);
  const restartedAt = performance.now();
  await Promise.all(others.map((id) => cluster.restart(id)));
  await sleep(AWAY_MS);
  ctx.expect(performance.now() - restartedAt < RESTART_GRACE_MS, `${late} returns within the restart grace (${Math.round(performance.now() - restartedAt)} ms after the others restarted)`);
  const sentBefore = await Promise.all(others.map(async (id) => (await cluster.node(id).metric(TRANSFERRED)) ?? 0));
  const lateAt = performance.now();
  // Ready only once every primary says it sends it nothing: its copies are whole again by then.
  await cluster.restart(late);
  const sent = (await Promise.all(others.map(async (id) => (await cluster.node(id).metric(TRANSFERRED)) ?? 0))).map((n, i) => n - sentBefore[i]!);
  ctx.log(`${late} ready ${Math.round(performance.now() - lateAt)} ms after its restart; sent it again meanwhile: ${others.map((id, i) => `${sent[i]} sessions by ${id}`).join(', ')}`);
  ctx.expect(sent.every((n) => n > 0), `both primaries resynchronised ${late} before it reported ready (${sent.join(', ')} sessions)`);

  // At once: had it said ready before the resyncs were done, this would lose what the other two acknowledged without it.
  workload.route([late]);
  await Promise.all(others.map((id) => cluster.kill(id, 'SIGKILL')));
  const promotedMs = await cluster.until(`${late} serves the partition alone`, async () => (await placement(cluster, probes[0]!.sid, late)).primary === late, SERVED_ALONE_WITHIN_MS);
  ctx.log(`${late} became the partition's primary ${Math.round(promotedMs)} ms after the kill`);
  for (const probe of probes) {
    const refreshed = await refreshGrant(cluster.node(late).target, probe.token);
    ctx.expect(refreshed.status === 200, `probe ${probe.sid} is served by ${late} alone: ${refreshed.status}${refreshed.status === 200 ? '' : ` ${JSON.stringify(refreshed.body)}`}`);
  }
  const lost = (await cluster.node(late).metric(METRIC_PARTITIONS_LOST)) ?? 0;
  ctx.expect(lost === 0, `no partition lost on ${late} (${lost})`);
  await sleep(AFTER_KILL_MS); // the workload uses every partition on the one node left
  await Promise.all(others.map((id) => cluster.restart(id)));
  await ctx.healSettleVerify();
});

scenario(`S5b: owners 3: a rolling restart with ${ROLLING_SESSIONS} sessions loses nothing and fails no request`, async (ctx) => {
  const cluster = await ctx.start({ owners: 3 });
  const workload = ctx.newWorkload();
  const created = await workload.populate(ROLLING_SESSIONS, 32);
  ctx.expect(created === ROLLING_SESSIONS, `every populating login succeeded (${created} of ${ROLLING_SESSIONS})`);
  workload.start();
  await sleep(WARMUP_MS);
  await rollingRestart(ctx, cluster, workload, READY_AGAIN_LIMIT_MS);
  await ctx.healSettleVerify();
  ctx.expectNone(failedRequests(workload.history), 'requests failed during the rolling restart');
});
