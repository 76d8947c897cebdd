// F12 — an admin write while a node has failed (hung: SIGSTOP, so it is
// still a member when the write arrives).
// Pass: the write (disable a user) is acknowledged, and from the moment it
// is, every live node refuses that user's password login and reports that
// user's existing session inactive — no waiting; when the hung node comes
// back, it refuses them too as soon as it is ready; the checker is clean for
// the load, which runs throughout (on the other users).
// Method: 3 nodes; the admin API of n1 (Keycloak's PUT
// /admin/realms/{realm}/users/{id} with {"enabled": false}).

import { adminToken, updateUser, userIdOf } from '../admin-client.js';
import { CLUSTER_REALM, CLUSTER_USERS, clock, introspect, passwordLogin } from '../workload.js';
import { scenario, sleep, WARMUP_MS } from './scenario.js';

const DISABLED = CLUSTER_USERS.at(-1)!;
const FAILED_MS = 10_000;

scenario('F12: admin write during a node failure: acknowledged only when every live node applies it', async (ctx) => {
  const cluster = await ctx.start();
  const workload = ctx.newWorkload({ users: CLUSTER_USERS.filter((u) => u !== DISABLED) });
  workload.start();
  await sleep(WARMUP_MS);

  const n1 = cluster.node('n1');
  const existing = await passwordLogin(n1.target, DISABLED);
  ctx.expect(existing.status === 200, `${DISABLED} logs in before the change (${existing.status})`);
  const token = await adminToken(n1.url);
  const id = await userIdOf(n1.url, token, CLUSTER_REALM, DISABLED);

  const victim = 'n3';
  const live = ['n1', 'n2'];
  workload.route(live);
  const failedAt = clock();
  await cluster.kill(victim, 'SIGSTOP');
  const status = await updateUser(n1.url, token, CLUSTER_REALM, id, { enabled: false });
  ctx.log(`the write answered ${status} ${Math.round(clock() - failedAt)} ms after the failure`);
  ctx.expect(status === 204, `the admin write is acknowledged (got ${status})`);
  for (const nodeId of live) {
    const target = cluster.node(nodeId).target;
    const login = await passwordLogin(target, DISABLED);
    ctx.expect(login.status === 400, `${nodeId} refuses the disabled user's login right after the acknowledgment (got ${login.status})`);
    const seen = await introspect(target, String(existing.body['access_token']));
    ctx.expect(seen.status === 200 && seen.body['active'] === false, `${nodeId} reports the disabled user's session inactive (${seen.status} ${JSON.stringify(seen.body)})`);
  }

  await sleep(FAILED_MS - (clock() - failedAt));
  await cluster.kill(victim, 'SIGCONT');
  await cluster.node(victim).waitReady();
  const back = cluster.node(victim).target;
  const login = await passwordLogin(back, DISABLED);
  ctx.expect(login.status === 400, `${victim}, back, refuses the disabled user's login (got ${login.status})`);
  const seen = await introspect(back, String(existing.body['access_token']));
  ctx.expect(seen.status === 200 && seen.body['active'] === false, `${victim}, back, reports the session inactive (${seen.status} ${JSON.stringify(seen.body)})`);

  await ctx.healSettleVerify();
});
