// S4 — a backup copy that differs from its primary is found and sent its
// partition again. After a whole-cluster restart each node loads its copies
// from its own disk and nobody resends them (F16), so a copy its disk did not
// hold whole (a crash while a transfer filled it, a change its primary never
// acknowledged) stays different until the copy checks find it.
// Pass: under the workload, copies that agree are never found to differ;
// after the restart the primary, back as the member the table names, sweeps
// its copies within 10 s (not the period's 300 s): it finds the copy, which is
// sent its partition again (logged by the primary; other copies may differ
// as well, a change in flight at the kill) within 20 s of the restart;
// then the primary is killed with `kill -9` and its backup, promoted, serves
// the partition's sessions: a probe session of that partition refreshes, and
// the checker finds no acknowledged session lost. Without the checks
// (`--copy-check-period 0`) the same kill loses the partition's sessions
// (the probe's refresh is refused).
// Method: 3 nodes, owners 2, copies checked at the default period (300 s);
// the workload runs throughout;
// every node `kill -9`ed at once; while they are down, the disk of the backup
// of the partition of a probe session (logged in apart from the workload) is
// made to hold nothing of that partition; every node restarted, that backup first (a backup back
// after its primary served without it is sent its partitions again anyway).

import { PARTITION_COUNT } from '../../../src/constants.js';
import { RESTART_GRACE_MS } from '../../../src/cluster/cluster-member.js';
import { LEASE_TTL_S } from '../../../src/cluster/control-plane.js';
import { refreshGrant } from '../workload.js';
import { describe, eraseCopy, loginProbes, placement } from './probes.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

/** The default --copy-check-period: the restart's sweep, not the period, must find the copy. */
const PERIOD_S = 300;
const DOWN_MS = LEASE_TTL_S * 1000 + 1_000;
const REFILLED_WITHIN_MS = 20_000;
const AFTER_KILL_MS = 6_000;
const REFILLS = 'sessiond_copy_refills_total';
const REFILL_LOGGED = 'a backup copy differs from its primary in two checks in a row: it is sent its partition again';
/** Rounds of checks under the workload before the kill (two primaries a round per node): none may find a difference. */
const CHECKED_MS = 6_000;

scenario('S4: a backup copy a whole-cluster restart left without its sessions is found by the copy checks and filled again before its primary dies', async (ctx) => {
  const cluster = await ctx.start({ owners: 2, extraArgs: ['--copy-check-period', String(PERIOD_S)] });
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(Math.max(WARMUP_MS, CHECKED_MS));

  // Probe sessions outside the workload; the one in the highest partition is kept, and that partition erased: a restarted
  // node's checks start from partition 0, so without the restart's sweep they would reach it only minutes later.
  const probes = await loginProbes(ctx, cluster, 'n1');
  const { token: probeToken, sid: probe } = probes.reduce((a, b) => (b.partition > a.partition ? b : a));
  const where = await placement(cluster, probe, 'n1');
  ctx.expect(where.partition >= 0 && where.partition < PARTITION_COUNT && where.backups.length === 1, `where the probe session lives: ${JSON.stringify(where)}`);
  const [primary, backup] = [where.primary, where.backups[0]!];
  // Under the workload, copies that agree are never found to differ (a record on its way is waited for).
  const refilled = [...(await cluster.metric(REFILLS)).values()].reduce((a: number, b) => a + (b ?? 0), 0);
  const checked = [...(await cluster.metric('sessiond_copy_checks_total')).values()].reduce((a: number, b) => a + (b ?? 0), 0);
  ctx.expect(checked > 0 && refilled === 0, `under the workload: ${checked} copies checked, ${refilled} refilled`);
  ctx.log(`under the workload: ${checked} copies checked, ${refilled} refilled`);

  await Promise.all(cluster.ids.map((id) => cluster.kill(id, 'SIGKILL')));
  await sleep(DOWN_MS);
  await eraseCopy(cluster.node(backup).spec.dataDir, where.partition);
  ctx.log(`erased partition ${where.partition} from ${backup}'s disk (its primary is ${primary})`);
  // The backup first: its primary, back after it, never serves the partition without it, so nothing
  // sends it the partition again (a backup back later than its primary is resynchronised) but the checks.
  const backupBack = cluster.restart(backup);
  await cluster.until(`${backup} rejoined`, () => cluster.node(backup).logEntries().some((e) => e.msg === 'joined the cluster' && typeof e.restart === 'string'), REFILLED_WITHIN_MS);
  await Promise.all([backupBack, ...cluster.ids.filter((id) => id !== backup).map((id) => cluster.restart(id))]);
  const restarted = performance.now();

  // Other copies may differ too (a change in flight at the kill): the erased one's refill is the one waited for.
  const refilling = (e: Record<string, unknown>): boolean => e.msg === REFILL_LOGGED && e.peer === backup && e.partition === where.partition;
  await cluster.until(`${primary} refills ${backup}'s copy of partition ${where.partition}`, () => cluster.node(primary).logEntries().some(refilling), REFILLED_WITHIN_MS);
  ctx.log(`${primary} found the copy and sent it again ${Math.round(performance.now() - restarted)} ms after the restart`);
  // Once nothing is on its way from the primary to the backup any more, the refill is applied there.
  await cluster.until('the refill completes', async () => (await describe(cluster, primary)).members.find((m) => m.node === backup)?.unsent === 0, REFILLED_WITHIN_MS);
  await cluster.kill(primary, 'SIGKILL');
  // The coordinator drops a member missing since the restart only after the restart grace (F16).
  const promotedMs = await cluster.until(`${backup} serves the partition`, async () => (await placement(cluster, probe, backup)).primary === backup, RESTART_GRACE_MS + 15_000);
  ctx.log(`${backup} became the partition's primary ${Math.round(promotedMs)} ms after the kill`);
  const refreshed = await refreshGrant(cluster.node(backup).target, probeToken);
  ctx.expect(refreshed.status === 200, `the probe session is served by the promoted copy: ${refreshed.status} ${JSON.stringify(refreshed.body)}`);
  await sleep(AFTER_KILL_MS); // the workload uses the partition's sessions on the promoted copy
  await cluster.restart(primary);
  await ctx.healSettleVerify({ copiesMayDiffer: true });
});
