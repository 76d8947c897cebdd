// The management port's Prometheus text after real grants:
// sessiond_token_requests_total{realm,grant_type,outcome},
// sessiond_logins_total{realm,outcome} and
// sessiond_http_request_duration_seconds{route,method,status}.

import { spawnSync } from 'node:child_process';
import test from 'ava';
import { DEMO_APP, DEMO_SERVICE, startNode, type TestNode } from '../../helpers/node-harness.js';

let h: TestNode;

test.before(async () => {
  h = await startNode();
});
test.after.always(async () => {
  await h?.stop();
});

/** The value of one sample line `name{labels} value` (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const got = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

test.serial('every counter has its samples from the first scrape, at zero', async (t) => {
  const fresh = await h.createRealm({ name: 'fresh-metrics' });
  const text = await (await fetch(`${h.managementUrl}/metrics`)).text();
  const realm = fresh.name;
  for (const reason of ['idle', 'max', 'remember_me_disabled']) t.is(sample(text, 'sessiond_session_expirations_total', { realm, reason }), 0, reason);
  for (const outcome of ['success', 'failure']) t.is(sample(text, 'sessiond_logins_total', { realm, outcome }), 0, outcome);
  for (const grant_type of ['password', 'authorization_code', 'refresh_token', 'client_credentials'])
    for (const outcome of ['success', 'error']) t.is(sample(text, 'sessiond_token_requests_total', { realm, grant_type, outcome }), 0, `${grant_type} ${outcome}`);
  t.is(sample(text, 'sessiond_sessions_revoked_total', { realm, cause: 'logout' }), 0);
  for (const outcome of ['success', 'failure', 'dropped']) t.is(sample(text, 'sessiond_backchannel_logout_total', { outcome }), 0, outcome);
  t.is(sample(text, 'sessiond_actor_restarts_total', { shard: '0' }), 0);
});

test.serial('token requests, logins and HTTP durations are counted', async (t) => {
  const a = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  await h.login('demo', DEMO_APP, 'bob', 'bob-password');
  t.is((await h.token('demo', { grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: 'nope' })).status, 401);
  t.is((await h.refresh('demo', DEMO_APP, a.refresh_token!)).status, 200);
  t.is((await h.refresh('demo', DEMO_APP, 'garbage')).status, 400);
  t.is((await h.token('demo', { grant_type: 'client_credentials' }, { basic: DEMO_SERVICE })).status, 200);
  t.is((await h.token('demo', { grant_type: 'jwt-bearer', client_id: DEMO_APP[0], client_secret: DEMO_APP[1] })).status, 400);

  const res = await fetch(`${h.managementUrl}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const tokens = 'sessiond_token_requests_total';
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'password', outcome: 'success' }), 2);
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'password', outcome: 'error' }), 1);
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'refresh_token', outcome: 'success' }), 1);
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'refresh_token', outcome: 'error' }), 1);
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'client_credentials', outcome: 'success' }), 1);
  t.is(sample(text, tokens, { realm: 'demo', grant_type: 'unsupported', outcome: 'error' }), 1);
  t.is(sample(text, 'sessiond_logins_total', { realm: 'demo', outcome: 'success' }), 2);
  t.is(sample(text, 'sessiond_logins_total', { realm: 'demo', outcome: 'failure' }), 1);
  const route = '/realms/:realm/protocol/openid-connect/token';
  t.is(sample(text, 'sessiond_http_request_duration_seconds_count', { route, method: 'POST', status: '200' }), 4);
  t.is(sample(text, 'sessiond_http_request_duration_seconds_count', { route, method: 'POST', status: '400' }), 2);
  t.is(sample(text, 'sessiond_http_request_duration_seconds_count', { route, method: 'POST', status: '401' }), 1);
  t.true((sample(text, 'sessiond_http_request_duration_seconds_sum', { route, method: 'POST', status: '200' }) ?? 0) > 0);
  t.truthy(sample(text, 'sessiond_http_request_duration_seconds_bucket', { route, method: 'POST', status: '200', le: '+Inf' }));
  t.true((sample(text, 'sessiond_sessions_active', { realm: 'demo', type: 'regular' }) ?? 0) >= 2);
  // Token latency by grant type.
  const latency = 'sessiond_token_request_duration_seconds_count';
  t.is(sample(text, latency, { realm: 'demo', grant_type: 'password' }), 3);
  t.is(sample(text, latency, { realm: 'demo', grant_type: 'refresh_token' }), 2);
  t.is(sample(text, latency, { realm: 'demo', grant_type: 'client_credentials' }), 1);
  t.is(sample(text, latency, { realm: 'demo', grant_type: 'unsupported' }), 1);
});

test.serial('/metrics of a live node passes promtool check metrics', async (t) => {
  await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const text = await (await fetch(`${h.managementUrl}/metrics`)).text();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  t.is(check.error, undefined, 'promtool runs (Debian package prometheus; .ci/run installs it)');
  t.is(check.status, 0, `${check.stdout}${check.stderr}`);
});

