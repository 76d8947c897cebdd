// Goal: one address flooding the login routes cannot starve the others. Past
// --login-rate-limit attempts per window, that address gets 429 with
// Retry-After and an OAuth error body before any hash is queued; another
// address still logs in; refresh grants from the flooding address are not
// counted; the login form is limited the same way. Method: a real node, raw
// requests bound to different loopback source addresses.

import test from 'ava';
import { postForm } from '../../helpers/admin-harness.js';
import { LOGIN_HASHES_PER_ADDRESS_MAX } from '../../../src/http/oidc/login-rate-limit.js';
import { DEMO_APP, startNode, type TestNode } from '../../helpers/node-harness.js';

let n: TestNode;
test.before(async () => {
  n = await startNode({ argv: ['--login-rate-limit', '5', '--login-rate-window-seconds', '600'] });
});
test.after.always(async () => {
  await n?.stop();
});

const password = (pw: string): Record<string, string> => ({ grant_type: 'password', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], username: 'alice', password: pw, scope: 'openid' });

test.serial('a flooding address is refused past the limit; others log in; refreshes are not counted', async (t) => {
  const url = n.oidcUrl('demo', 'token');
  const first = await postForm(url, password('alice-password'), '127.0.0.2');
  t.is(first.status, 200);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) statuses.push((await postForm(url, password('wrong'), '127.0.0.2')).status);
  t.deepEqual(statuses, [401, 401, 401, 401, 429, 429, 429, 429]);
  const refused = await postForm(url, password('alice-password'), '127.0.0.2');
  t.is(refused.status, 429);
  t.is(refused.body.error, 'temporarily_unavailable');
  t.true(Number(refused.headers.get('retry-after')) >= 1);
  // Everyone else is served.
  t.is((await postForm(url, password('alice-password'), '127.0.0.3')).status, 200);
  // A refresh costs no hash and is not a login attempt.
  const refreshed = await postForm(url, { grant_type: 'refresh_token', client_id: DEMO_APP[0], client_secret: DEMO_APP[1], refresh_token: first.body.refresh_token }, '127.0.0.2');
  t.is(refreshed.status, 200);
});

test.serial('the login form is limited per address too', async (t) => {
  const url = `${n.realmUrl('demo')}/login-actions/authenticate`;
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await postForm(url, { username: 'bob', password: 'wrong' }, '127.0.0.4')).status);
  t.deepEqual(statuses.slice(5), [429, 429]);
  t.true(statuses.slice(0, 5).every((s) => s !== 429), `first five admitted: ${statuses.join(',')}`);
});

test.serial('one address has at most LOGIN_HASHES_PER_ADDRESS_MAX hashes in flight; the rest are refused at once', async (t) => {
  // An unknown user costs the full dummy hash (210,000 iterations): the first attempts are still hashing when the others arrive.
  const url = n.oidcUrl('demo', 'token');
  const attempt = { ...password('wrong'), username: 'nobody-at-all' };
  const answers = await Promise.all(Array.from({ length: 5 }, () => postForm(url, attempt, '127.0.0.5')));
  const refused = answers.filter((a) => a.status === 429);
  t.true(refused.length >= 1, answers.map((a) => a.status).join(','));
  t.is(answers.filter((a) => a.status === 401).length, 5 - refused.length);
  t.true(answers.filter((a) => a.status === 401).length >= LOGIN_HASHES_PER_ADDRESS_MAX);
  t.deepEqual(refused[0]!.body, { error: 'temporarily_unavailable', error_description: 'Too many login attempts from this address, retry later' });
  t.is(refused[0]!.headers.get('retry-after'), '1');
  // Another address is not affected.
  t.is((await postForm(url, password('alice-password'), '127.0.0.6')).status, 200);
});
