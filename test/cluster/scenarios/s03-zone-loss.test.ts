// S3 — a whole zone lost at once: four nodes in two zones (n1, n2 in zone a;
// n3, n4 in zone b), owners 2, and both nodes of zone b killed with
// `kill -9` together.
// Pass: every partition had a copy in each zone, so none is lost
// (`sessiond_partitions_lost_total` 0 on the survivors); requests on any
// session fail only within 3 s of the kill; when zone b returns the cluster
// is whole again and the checker finds no acknowledged session lost and none
// resurrected. Without zones, rendezvous hashing would have put both copies
// of about a sixth of the partitions in zone b (F8 shows what that loses).
// Method: the zones come from SESSIOND_ZONE in each node's environment, and
// n1's /cluster (management port) lists them and places an acknowledged
// session in both; the load balancer keeps only
// zone a after the kill.

import type { ClusterDescription, PartitionDescription } from '../../../src/cluster/cluster-description.js';
import { partitionTable } from '../../../src/cluster/hrw.js';
import { failureWindowMs } from '../availability.js';
import { METRIC_PARTITIONS_LOST } from '../topology.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const ZONES: Record<string, string> = { n1: 'a', n2: 'a', n3: 'b', n4: 'b' };
const AFTER_KILL_MS = 8_000;
const SERVED_WITHIN_MS = 3_000;

scenario('S3: zone b (two of four nodes) killed at once: no partition lost, the other zone serves every session', async (ctx) => {
  const cluster = await ctx.start({ nodes: 4, owners: 2, nodeEnv: (id) => ({ SESSIOND_ZONE: ZONES[id]! }) });
  const unzoned = partitionTable(cluster.ids, 2).filter((owners) => owners.every((n) => ZONES[n] === 'b')).length;
  ctx.log(`without zones ${unzoned} partitions would have both copies in zone b`);
  const workload = ctx.newWorkload();
  workload.start();
  await sleep(WARMUP_MS);

  const inOneZone = await cluster.node('n1').metric('sessiond_partitions_in_one_zone');
  ctx.expect(inOneZone === 0, `sessiond_partitions_in_one_zone on n1 is ${inOneZone} before the kill`);
  // What an operator reads on the management port: every member in its zone, each with primaries.
  const seen = (await (await fetch(`${cluster.node('n1').managementUrl}/cluster`)).json()) as ClusterDescription;
  const zonesSeen = Object.fromEntries(seen.members.map((m) => [m.node, m.zone]));
  ctx.expect(JSON.stringify(zonesSeen) === JSON.stringify(ZONES), `/cluster on n1 lists the members in their zones: ${JSON.stringify(zonesSeen)}`);
  ctx.expect(seen.members.every((m) => m.primary > 0 && m.backup > 0), `every member has primaries and backups: ${JSON.stringify(seen.members)}`);
  ctx.expect(seen.table?.inOneZone === 0 && seen.table.underReplicated === 0, `/cluster's table: ${JSON.stringify(seen.table)}`);
  // Where one acknowledged session lives: a copy in each zone.
  const session = workload.history.find((e) => e.op === 'login' && e.outcome === 'ok')!.session;
  const holders = (await (await fetch(`${cluster.node('n1').managementUrl}/cluster/sessions/${session}`)).json()) as PartitionDescription;
  ctx.expect(holders.backups.length === 1 && ZONES[holders.primary] !== ZONES[holders.backups[0]!], `/cluster/sessions/${session} on n1: ${JSON.stringify(holders)}`);

  const survivors = ['n1', 'n2'];
  const victims = ['n3', 'n4'];
  workload.route(survivors);
  const killedAt = clock();
  await Promise.all(victims.map((id) => cluster.kill(id, 'SIGKILL')));
  await sleep(AFTER_KILL_MS);
  ctx.within('kill → last failed request', failureWindowMs(workload.history, killedAt, { nodes: survivors }), SERVED_WITHIN_MS);
  for (const id of survivors) {
    const lost = await cluster.node(id).metric(METRIC_PARTITIONS_LOST);
    ctx.expect(lost === 0, `${METRIC_PARTITIONS_LOST} on ${id} is ${lost}`);
  }

  await Promise.all(victims.map((id) => cluster.restart(id)));
  await ctx.healSettleVerify();
});
