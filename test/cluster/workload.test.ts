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
import { adminToken, updateUser, userIdOf } from './admin-client.js';
import { failedRequests } from './availability.js';
import { startSingleNode } from './harness.js';
import { CLUSTER_REALM, introspect, passwordLogin, Workload } from './workload.js';

/** The mixed run stops once every kind of request was seen a few times, or after this long. */
const MAX_RUN_MS = 10_000;

test.serial('a bounded mixed run against one healthy node: the history is clean and every kind of request was answered as expected', async (t) => {
  const node = await startSingleNode(t);
  const workload = new Workload({ targets: [node.target], virtualUsers: 8, ratePerSecond: 150, mix: { replay: 0.05, codeFlow: 0.2 } });
  t.log(`workload seed ${workload.seed} (SESSIOND_WORKLOAD_SEED repeats it)`);
  // Run until every kind of request has been made a few times (bounded: a loaded machine is slow).
  const kinds = ['login ok', 'code ok', 'refresh ok', 'introspect ok', 'logout ok', 'refresh fail'];
  const started = Date.now();
  workload.start();
  // A refresh can fail without being a replay (after its session's logout): wait for a replay too.
  const replayed = (): boolean => workload.history.some((e) => e.op === 'refresh' && e.probe === true);
  while (Date.now() - started < MAX_RUN_MS && !(kinds.every((k) => (workload.summary()[k] ?? 0) >= 3) && replayed())) await new Promise((r) => setTimeout(r, 100));
  await workload.stop();
  await workload.verify();
  const summary = workload.summary();
  t.log(summary);

  t.deepEqual(workload.violations(), []);
  for (const kind of [...kinds, 'verify ok']) t.true((summary[kind] ?? 0) > 0, `some ${kind}`);
  const unknown = workload.history.filter((e) => e.outcome === 'unknown');
  t.deepEqual(unknown, [], 'a healthy node answers every request');
  // The only refusals are the deliberate replays: a used refresh token, a used code, and the
  // logout that follows a refresh-token replay (reuse detection ended that chain).
  t.deepEqual(failedRequests(workload.history), [], 'no refusal other than of a probe');
  for (const e of workload.history.filter((x) => x.probe === true && x.op !== 'logout')) t.is(e.outcome, 'fail', `a replayed ${e.op} is refused`);
  t.true(workload.history.some((e) => e.op === 'refresh' && e.probe === true), 'refresh tokens were replayed');
  t.true(workload.history.filter((e) => e.op === 'verify').every((v) => v.outcome === 'ok'));

  // The admin calls the scenarios make: disable a user, whose logins then fail.
  const token = await adminToken(node.url);
  const id = await userIdOf(node.url, token, CLUSTER_REALM, 'user001');
  const before = await passwordLogin(node.target, 'user001');
  t.is(before.status, 200);
  t.is(await updateUser(node.url, token, CLUSTER_REALM, id, { enabled: false }), 204);
  t.is((await passwordLogin(node.target, 'user001')).status, 400);
  t.false((await introspect(node.target, String(before.body['access_token']))).body['active']);
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
