// S1 — a shard worker of one node crashes under load (a fault planted in that
// node: a preloaded module that ends its shard worker when a file appears).
// The restarted worker has lost the node's copies of its partitions (and,
// with --durability snapshot, its primaries), so the node must not serve
// them. Pass: the node stops serving, leaves the view and joins again as a new
// member and is sent fresh copies; then another node is killed, so that the
// victim's copies are all that is left of that node's primaries; the checker
// is clean (nothing acknowledged lost, nothing resurrected).
// Method: 3 nodes, owners 2, the mixed workload through the nodes a load
// balancer's readiness check admits.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../helpers/temp-dir.js';
import { clock } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

/**
 * Planted in the victim's threads by --require (which, unlike --import, also
 * runs in worker threads): in a shard worker (its workerData is the shard's
 * boot message), end the thread once the trigger file exists, and only once.
 */
const PLANTED = `
const { isMainThread, workerData } = require('node:worker_threads');
const { existsSync, unlinkSync } = require('node:fs');
const trigger = process.env.SESSIOND_TEST_SHARD_CRASH_FILE;
if (!isMainThread && workerData && typeof workerData.shard === 'number' && trigger) {
  setInterval(() => {
    if (!existsSync(trigger)) return;
    unlinkSync(trigger);
    process.exit(1);
  }, 20).unref();
}
`;
const VICTIM = 'n2';
const REJOIN_GIVE_UP_MS = 30_000;
/** Load kept up after the second node's kill, on the copies the victim was sent again. */
const AFTER_KILL_MS = 3_000;

scenario('S1: a shard worker crash on one node: the node leaves and joins again, nothing acknowledged is lost', async (ctx) => {
  const dir = tempDir(ctx.t);
  const planted = join(dir, 'crash-shard.cjs');
  const trigger = join(dir, 'crash-now');
  await writeFile(planted, PLANTED);
  const cluster = await ctx.start({
    nodeEnv: (id) => (id === VICTIM ? { NODE_OPTIONS: `--require=${planted}`, SESSIOND_TEST_SHARD_CRASH_FILE: trigger } : undefined),
  });
  const workload = ctx.newWorkload();
  ctx.readinessRouter();
  workload.start();
  await sleep(WARMUP_MS);

  const victim = cluster.node(VICTIM);
  const servingBefore = count(victim.logs(), '"msg":"serving"');
  const crashedAt = clock();
  await writeFile(trigger, '');
  await cluster.until(`${VICTIM} leaves after its shard worker died`, () => victim.logs().includes('a shard worker died and its copies with it'), REJOIN_GIVE_UP_MS);
  ctx.log(`${VICTIM}: leaving ${Math.round(clock() - crashedAt)} ms after the crash`);
  await cluster.until(`${VICTIM} serves again`, () => count(victim.logs(), '"msg":"serving"') > servingBefore, REJOIN_GIVE_UP_MS);
  ctx.log(`${VICTIM}: joined again and serving ${Math.round(clock() - crashedAt)} ms after the crash`);
  ctx.expect(victim.alive, `${VICTIM} kept running (a shard crash is not a process crash)`);
  ctx.log(`whole again ${Math.round(await ctx.converged())} ms later`);

  // The copies the victim holds now are the only ones left of what another node was primary of.
  const other = 'n1';
  const survivors = cluster.ids.filter((id) => id !== other);
  const before = await ctx.viewRevisions(survivors);
  workload.route(survivors);
  const killedAt = clock();
  await cluster.kill(other, 'SIGKILL');
  await ctx.viewCommitted(survivors, before, killedAt, 2);
  await sleep(AFTER_KILL_MS);
  await cluster.restart(other);
  await ctx.healSettleVerify();
});

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
