// Browser (RP-initiated) logout over plain HTTP, in virtual time: with an
// id_token_hint (expired hints too) straight to post_logout_redirect_uri with
// state; without one, Keycloak's confirmation page and its CSRF-protected
// POST; the checks that end on a 400 page; back-channel logout of the ended
// session's clients; and the refresh_token POST that shares the URL.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type { UserEvent } from '../../../../src/events/event-sink.js';
import { parseForm, TestBrowser, type PageResult } from '../../../helpers/browser-client.js';
import { claims, DEMO_APP, startNode, type TestNode } from '../../../helpers/node-harness.js';
import { codeOf, exchangeCode, formLogin, startAuth, submitLogin } from './browser-flow.js';

let h: TestNode;
const events: UserEvent[] = [];
const AFTER_LOGOUT = 'http://127.0.0.1:5000/logged-out';

test.before(async () => {
  h = await startNode({ manualClock: true });
  h.node.events.onEvent((e) => events.push(e));
});
test.after.always(async () => {
  await h?.stop();
});

function logoutUrl(params: Record<string, string>, realm = 'demo'): string {
  const url = new URL(h.oidcUrl(realm, 'logout'));
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

/** A form login for demo-app and the tokens of its code. */
async function loggedIn(browser: TestBrowser): Promise<{ sid: string; idToken: string; refreshToken: string }> {
  const login = await formLogin(h, browser, 'demo-app');
  const tokens = await exchangeCode(h, DEMO_APP, login.code);
  if (tokens.status !== 200) throw new Error(tokens.text);
  return { sid: login.sessionState!, idToken: tokens.body.id_token, refreshToken: tokens.body.refresh_token };
}

function assertCookiesCleared(t: import('ava').ExecutionContext, res: PageResult): void {
  for (const name of ['KEYCLOAK_IDENTITY', 'KEYCLOAK_SESSION', 'KEYCLOAK_REMEMBER_ME']) {
    const cookie = res.headers.getSetCookie().map((line) => line.split(';').map((s) => s.trim())).find((parts) => parts[0]!.startsWith(`${name}=`));
    t.truthy(cookie, `${name} is expired`);
    t.true(cookie!.includes('Max-Age=0'), name);
    t.true(cookie!.includes('Path=/realms/demo/'), name);
  }
}

test('id_token_hint + post_logout_redirect_uri + state: straight back to the client, session and cookies gone', async (t) => {
  const browser = new TestBrowser();
  const { sid, idToken, refreshToken } = await loggedIn(browser);
  const res = await browser.get(logoutUrl({ id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT, state: 'st-1' }));
  t.is(res.status, 302, res.text);
  t.is(res.location!.href, `${AFTER_LOGOUT}?state=st-1`);
  t.is(res.headers.get('cache-control'), 'no-store, must-revalidate, max-age=0');
  assertCookiesCleared(t, res);
  t.is(await h.node.engine.getSession(sid), null);
  const logout = events.find((e) => e.type === 'LOGOUT' && e.sessionId === sid);
  t.truthy(logout);
  t.is(logout?.clientId, 'demo-app');
  t.is(logout?.details?.['redirect_uri'], AFTER_LOGOUT);
  t.is((await h.refresh('demo', DEMO_APP, refreshToken)).status, 400);
  t.is((await startAuth(h, browser, 'demo-app')).page.status, 200, 'no SSO any more');
});

// Serial: it moves the shared clock, which would expire the other tests' codes mid-flight.
test.serial('an expired ID token is still a valid hint (expiry ignored); a POSTed logout form works the same', async (t) => {
  const browser = new TestBrowser();
  const { sid, idToken } = await loggedIn(browser);
  await h.advance(claims(idToken)['exp'] - h.now() + 60);
  const res = await browser.post(h.oidcUrl('demo', 'logout'), { id_token_hint: idToken, post_logout_redirect_uri: AFTER_LOGOUT });
  t.is(res.status, 302, res.text);
  t.is(res.location!.href, AFTER_LOGOUT);
  t.is(await h.node.engine.getSession(sid), null);
});

test('without a hint: a confirmation page; confirming logs out and says so', async (t) => {
  const browser = new TestBrowser();
  const { sid } = await loggedIn(browser);
  const page = await browser.get(logoutUrl({}));
  t.is(page.status, 200);
  t.regex(page.text, /Do you want to log out\?/);
  t.is(page.headers.get('x-frame-options'), 'DENY');
  const form = parseForm(page.text);
  t.is(form.action, `${h.realmUrl('demo')}/protocol/openid-connect/logout/logout-confirm`);
  t.regex(form.fields['csrf_token']!, /^[A-Za-z0-9_-]{86}$/);
  t.truthy(await h.node.engine.getSession(sid), 'nothing happens before the confirmation');

  const done = await browser.post(form.action, { ...form.fields, confirmLogout: 'true' });
  t.is(done.status, 200);
  t.regex(done.text, /You are logged out/);
  assertCookiesCleared(t, done);
  t.is(await h.node.engine.getSession(sid), null);
  t.regex((await browser.get(form.action)).text, /You are logged out/, 'a reload of the confirmation URL');
});

test('the confirmation refuses a missing or wrong CSRF token and a missing confirmLogout: 400 "Logout failed"', async (t) => {
  const browser = new TestBrowser();
  const { sid } = await loggedIn(browser);
  const form = parseForm((await browser.get(logoutUrl({}))).text);
  const attempts = [
    { ...form.fields, confirmLogout: 'true', csrf_token: '' },
    { ...form.fields, confirmLogout: 'true', csrf_token: 'B'.repeat(86) },
    { ...form.fields },
  ];
  for (const fields of attempts) {
    const res = await browser.post(form.action, fields);
    t.is(res.status, 400);
    t.regex(res.text, /role="alert">Logout failed<\/p>/);
  }
  t.is((await new TestBrowser().post(form.action, { ...form.fields, confirmLogout: 'true' })).status, 400, 'another browser (no AUTH_SESSION_ID)');
  t.truthy(await h.node.engine.getSession(sid));
});

test('client_id + post_logout_redirect_uri: confirmation when the browser has a session, then back with state', async (t) => {
  const browser = new TestBrowser();
  const { sid } = await loggedIn(browser);
  const page = await browser.get(logoutUrl({ client_id: 'demo-app', post_logout_redirect_uri: AFTER_LOGOUT, state: 'st-2' }));
  t.is(page.status, 200);
  t.regex(page.headers.get('content-security-policy')!, /form-action 'self' http:\/\/127\.0\.0\.1:\d+ http:\/\/127\.0\.0\.1:5000/);
  const form = parseForm(page.text);
  const done = await browser.post(form.action, { ...form.fields, confirmLogout: 'true' });
  t.is(done.status, 302);
  t.is(done.location!.href, `${AFTER_LOGOUT}?state=st-2`);
  t.is(await h.node.engine.getSession(sid), null);
});

test('client_id + post_logout_redirect_uri with no browser session: straight back', async (t) => {
  const res = await new TestBrowser().get(logoutUrl({ client_id: 'demo-app', post_logout_redirect_uri: AFTER_LOGOUT, state: 'x' }));
  t.is(res.status, 302);
  t.is(res.location!.href, `${AFTER_LOGOUT}?state=x`);
});

test('a hint for another session than the browser\'s asks for confirmation, then logs out the hint\'s session', async (t) => {
  const browser = new TestBrowser();
  const mine = await loggedIn(browser);
  const other = await loggedIn(new TestBrowser());
  const page = await browser.get(logoutUrl({ id_token_hint: other.idToken }));
  t.is(page.status, 200);
  t.regex(page.text, /Do you want to log out\?/);
  const form = parseForm(page.text);
  t.is((await browser.post(form.action, { ...form.fields, confirmLogout: 'true' })).status, 200);
  t.is(await h.node.engine.getSession(other.sid), null);
  t.truthy(await h.node.engine.getSession(mine.sid), "the browser's own session stays");
});

test('refused logouts end on a 400 page and log nobody out', async (t) => {
  const browser = new TestBrowser();
  const { sid, idToken } = await loggedIn(browser);
  const forged = `${idToken.slice(0, idToken.lastIndexOf('.'))}.${'A'.repeat(342)}`;
  const hint = claims(idToken);
  const cases: [Record<string, string>, string][] = [
    [{ post_logout_redirect_uri: AFTER_LOGOUT }, 'Missing parameter: id_token_hint'],
    [{ id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' }, 'Invalid redirect uri'],
    [{ client_id: 'demo-app', post_logout_redirect_uri: 'https://evil.example/' }, 'Invalid redirect uri'],
    [{ client_id: 'nope', post_logout_redirect_uri: AFTER_LOGOUT }, 'Invalid redirect uri'],
    [{ id_token_hint: forged }, 'Invalid parameter: id_token_hint'],
    [{ id_token_hint: 'not-a-jwt' }, 'Invalid parameter: id_token_hint'],
    [{ id_token_hint: idToken, client_id: 'demo-spa' }, 'Invalid parameter: id_token_hint'],
    [{ redirect_uri: AFTER_LOGOUT }, 'Invalid parameter: redirect_uri'],
  ];
  t.is(hint['azp'], 'demo-app', 'so that client_id=demo-spa contradicts the hint');
  for (const [params, message] of cases) {
    const res = await browser.get(logoutUrl(params));
    t.is(res.status, 400, JSON.stringify(params));
    t.is(res.location, null);
    t.true(res.text.includes(`role="alert">${message}</p>`), `${message}: ${res.text.slice(-200)}`);
  }
  t.truthy(await h.node.engine.getSession(sid));
});

test('a hint issued before the session started is refused: "Session not active"', async (t) => {
  const browser = new TestBrowser();
  const { sid } = await loggedIn(browser);
  const realm = h.realm('demo');
  const session = (await h.node.engine.getSession(sid))!.session;
  const signer = h.node.keys.signer(realm.id, realm.defaultSignatureAlgorithm)!;
  const stale = signer.sign({ iat: session.started - 10, exp: session.started + 290, iss: h.realmUrl('demo'), aud: 'demo-app', typ: 'ID', azp: 'demo-app', sid, sub: session.userId });
  const res = await browser.get(logoutUrl({ id_token_hint: stale, post_logout_redirect_uri: AFTER_LOGOUT }));
  t.is(res.status, 400);
  t.regex(res.text, /Session not active/);
  t.truthy(await h.node.engine.getSession(sid));
});

test('a POST with refresh_token is still the non-browser logout (204)', async (t) => {
  const { sid, refreshToken } = await loggedIn(new TestBrowser());
  const res = await h.post(h.oidcUrl('demo', 'logout'), { refresh_token: refreshToken, client_id: DEMO_APP[0], client_secret: DEMO_APP[1] });
  t.is(res.status, 204);
  t.is(await h.node.engine.getSession(sid), null);
});

test('the ended session\'s clients get a back-channel logout token', async (t) => {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const r = await h.createRealm({
    clients: [{ clientId: 'a', secret: 's', redirectUris: ['http://127.0.0.1:*/*'], attributes: { 'backchannel.logout.url': `http://127.0.0.1:${port}/bc`, 'post.logout.redirect.uris': '+' } }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const browser = new TestBrowser();
  const login = codeOf(await submitLogin(browser, (await startAuth(h, browser, 'a', {}, { realm: r.name })).page, 'u', 'pw'));
  const tokens = await exchangeCode(h, ['a', 's'], login.code, null, r.name);
  const res = await browser.get(logoutUrl({ id_token_hint: tokens.body.id_token, post_logout_redirect_uri: AFTER_LOGOUT }, r.name));
  t.is(res.status, 302);
  await h.node.backchannel.idle();
  t.is(received.length, 1);
  const logoutToken = claims(received[0]!);
  t.is(logoutToken['sid'], login.sessionState);
  t.is(logoutToken['aud'], 'a');
});
