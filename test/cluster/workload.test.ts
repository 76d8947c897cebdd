// Goal: the cluster tests' workload and checker are right before any cluster
// exists. Against one ordinary node (which loses nothing) a bounded mixed run
// — password and code-flow logins, rotations, introspections, logouts,
// replays of used tokens and codes — yields a history the checker finds
// clean, with every kind of request answered as a correct server answers it;
// and a real loss is caught: a node with --durability snapshot killed with
// SIGKILL comes back without its online sessions, and the verification pass
// makes the checker report exactly those sessions (P1).
// Method: real `node dist/src/main.js` processes started through the cluster
// harness's NodeHandle, the test realm of test/fixtures/cluster-realm, a few
// seconds of load at a bounded rate. Seed printed.

import test from 'ava';
import { startSingleNode } from './harness.js';
import { Workload } from './workload.js';

test.serial('a bounded mixed run against one healthy node: the history is clean and every kind of request was answered as expected', async (t) => {
  const node = await startSingleNode(t);
  const workload = new Workload({ targets: [node.target], virtualUsers: 8, ratePerSecond: 150, mix: { replay: 0.05, codeFlow: 0.2 } });
  t.log(`workload seed ${workload.seed} (SESSIOND_WORKLOAD_SEED repeats it)`);
  await workload.runFor(2_500);
  await workload.verify();
  const summary = workload.summary();
  t.log(summary);

  t.deepEqual(workload.violations(), []);
  for (const kind of ['login ok', 'code ok', 'refresh ok', 'introspect ok', 'logout ok', 'verify ok']) t.true((summary[kind] ?? 0) > 0, `some ${kind}`);
  const unknown = workload.history.filter((e) => e.outcome === 'unknown');
  t.deepEqual(unknown, [], 'a healthy node answers every request');
  // The only refusals are the deliberate replays: a used refresh token, a used code, and the
  // logout that follows a refresh-token replay (reuse detection ended that chain).
  for (const e of workload.history.filter((x) => x.outcome === 'fail')) {
    t.true(['refresh', 'code', 'logout'].includes(e.op), `${e.op} refused: ${e.detail}`);
  }
  t.true(workload.history.some((e) => e.op === 'refresh' && e.outcome === 'fail'), 'replayed refresh tokens were refused');
  t.true(workload.history.filter((e) => e.op === 'verify').every((v) => v.outcome === 'ok'));
});

test.serial('a real loss is caught: after kill -9 of a snapshot-durability node, the lost sessions are P1 violations', async (t) => {
  const node = await startSingleNode(t, ['--durability', 'snapshot']);
  const workload = new Workload({ targets: [node.target], virtualUsers: 4, ratePerSecond: 100 });
  t.log(`workload seed ${workload.seed}`);
  t.is(await workload.populate(10, 4), 10);
  await node.kill('SIGKILL');
  await node.restart();
  await workload.verify();
  const violations = workload.violations();
  t.is(new Set(violations.filter((v) => v.property === 'P1').map((v) => v.session)).size, 10, 'every acknowledged login lost by the crash is reported');
  t.true(violations.every((v) => v.property === 'P1'));
});
