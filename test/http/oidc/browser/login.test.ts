// The login page over plain HTTP against a real node: the form and its
// security headers, a form login through to tokens (confidential client and
// PKCE public client), the cookies it sets and their flags (http ⇒
// SameSite=Lax, no Secure), failed logins (form again + LOGIN_ERROR),
// remember-me lifetimes, prompt=none/login, and every way a request is
// refused: error pages for an untrusted client or redirect URI (never a
// redirect), error redirects for the rest, 400 pages for CSRF failures.

import { createHash } from 'node:crypto';
import test from 'ava';
import type { UserEvent } from '../../../../src/events/event-sink.js';
import { authorizationUrl, parseForm, TestBrowser } from '../../../helpers/browser-client.js';
import { claims, DEMO_APP, DEMO_SPA, startNode, type TestNode } from '../../../helpers/node-harness.js';
import { CALLBACK, codeOf, exchangeCode, formLogin, startAuth, submitLogin } from './browser-flow.js';

let h: TestNode;
const events: UserEvent[] = [];

test.before(async () => {
  h = await startNode();
  h.node.events.onEvent((e) => events.push(e));
});
test.after.always(async () => {
  await h?.stop();
});

const demoRealm = () => h.realm('demo');
const userId = (username: string): string => h.node.store.userByUsername(demoRealm().id, username)!.id;

test('the login form is labelled, posts a CSRF token and the signed request, and is sent with strict headers', async (t) => {
  const browser = new TestBrowser();
  const { page } = await startAuth(h, browser, 'demo-app', { login_hint: 'bob' });
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type')!, /^text\/html; charset=utf-8/);
  t.is(page.headers.get('cache-control'), 'no-store, must-revalidate, max-age=0');
  t.is(page.headers.get('x-frame-options'), 'DENY');
  const csp = page.headers.get('content-security-policy')!;
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /form-action 'self' http:\/\/127\.0\.0\.1:\d+ http:\/\/127\.0\.0\.1:5000/);
  t.regex(csp, /frame-ancestors 'none'/);
  t.regex(page.text, /<label for="username">Username or email<\/label>/);
  t.regex(page.text, /<input id="username" name="username" type="text" value="bob"/);
  t.regex(page.text, /<label for="password">Password<\/label>/);
  t.regex(page.text, /<input id="password" name="password" type="password"/);
  t.regex(page.text, /<label for="rememberMe">Remember me<\/label>/, 'the demo realm allows remember-me');
  t.regex(page.text, /<button[^>]*type="submit">Sign In<\/button>/);
  t.notRegex(page.text, /<script/i);
  const form = parseForm(page.text);
  t.is(form.action, `${h.realmUrl('demo')}/login-actions/authenticate`);
  t.regex(form.fields['csrf_token']!, /^[A-Za-z0-9_-]{86}$/);
  t.is(form.fields['auth_request']!.split('.').length, 3);
  const asid = browser.jar.lastSet.get('AUTH_SESSION_ID')!;
  t.truthy(asid);
  t.true(asid.httpOnly);
  t.is(asid.path, '/realms/demo/');
  t.is(asid.maxAge, null, 'a browser-session cookie');
  t.is(asid.sameSite, 'Lax');
  t.false(asid.secure, 'plain http: no Secure flag');
});

test('form login → code → tokens (confidential client): redirect parameters, cookies, LOGIN event', async (t) => {
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-app');
  const sid = login.sessionState!;
  t.is(login.location.origin + login.location.pathname, CALLBACK);
  t.is(login.location.searchParams.get('state'), login.start.state);
  t.is(login.location.searchParams.get('iss'), h.realmUrl('demo'));
  t.true(login.code.endsWith(`.${sid}`));
  t.deepEqual([...login.location.searchParams.keys()], ['state', 'session_state', 'iss', 'code']);

  const identity = browser.jar.lastSet.get('KEYCLOAK_IDENTITY')!;
  t.true(identity.httpOnly);
  t.is(identity.path, '/realms/demo/');
  t.is(identity.maxAge, null, 'not remembered: a browser-session cookie');
  t.is(identity.sameSite, 'Lax');
  const token = claims(identity.value);
  t.is(token['typ'], 'Serialized-ID');
  t.is(token['sid'], sid);
  t.is(token['sub'], userId('alice'));
  t.is(token['iss'], h.realmUrl('demo'));
  t.is(token['exp'] - token['iat'], 36000, 'expires with the session max');
  t.is(typeof token['state_checker'], 'string');
  const session = browser.jar.lastSet.get('KEYCLOAK_SESSION')!;
  t.false(session.httpOnly, 'readable by the session-status iframe');
  t.is(session.maxAge, 36000);
  t.is(session.value, createHash('sha256').update(sid).digest('base64url'));
  t.is(browser.jar.lastSet.get('KEYCLOAK_REMEMBER_ME')?.maxAge, 0, 'a login without remember-me forgets the username');

  const got = await h.node.engine.getSession(sid);
  t.is(got?.session.userId, userId('alice'));
  t.false(got!.session.rememberMe);
  t.deepEqual(got!.session.clients.map((c) => c.client), [h.node.store.clientByClientId(demoRealm().id, 'demo-app')!.id]);

  const res = await exchangeCode(h, DEMO_APP, login.code);
  t.is(res.status, 200, res.text);
  t.is(res.body.session_state, sid);
  const id = claims(res.body.id_token);
  t.is(id['nonce'], login.start.nonce);
  t.is(id['sid'], sid);
  t.is(id['acr'], '1', 'an interactive login');
  t.is((await exchangeCode(h, DEMO_APP, login.code)).status, 400, 'a code is single-use');

  const event = events.find((e) => e.type === 'LOGIN' && e.sessionId === sid);
  t.truthy(event);
  t.is(event!.clientId, 'demo-app');
  t.is(event!.details?.['auth_type'], 'code');
  t.is(event!.details?.['username'], 'alice');
  t.is(event!.details?.['redirect_uri'], CALLBACK);
});

test('PKCE public client (demo-spa): the code needs the verifier', async (t) => {
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-spa', { pkce: true, username: 'bob', password: 'bob-password' });
  const wrong = await exchangeCode(h, DEMO_SPA, login.code, 'x'.repeat(43));
  t.is(wrong.status, 400);
  t.is(wrong.body.error_description, 'PKCE verification failed: Code mismatch');

  const again = await formLogin(h, new TestBrowser(), 'demo-spa', { pkce: true, username: 'bob', password: 'bob-password' });
  const res = await exchangeCode(h, DEMO_SPA, again.code, again.start.pkce!.verifier);
  t.is(res.status, 200, res.text);
  t.is(claims(res.body.access_token)['azp'], 'demo-spa');
});

test('a client that forces PKCE gets invalid_request redirects, with state and iss', async (t) => {
  const browser = new TestBrowser();
  const noMethod = await startAuth(h, browser, 'demo-spa', { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' });
  t.is(noMethod.page.status, 302);
  const q = noMethod.page.location!.searchParams;
  t.is(q.get('error'), 'invalid_request');
  t.is(q.get('error_description'), 'Missing parameter: code_challenge_method');
  t.is(q.get('state'), noMethod.state);
  t.is(q.get('iss'), h.realmUrl('demo'));
  const noChallenge = await startAuth(h, browser, 'demo-spa');
  t.is(noChallenge.page.location!.searchParams.get('error_description'), 'Missing parameter: code_challenge');
  const plain = await startAuth(h, browser, 'demo-spa', { code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'plain' });
  t.is(plain.page.location!.searchParams.get('error_description'), 'Invalid parameter: code challenge method is not configured one');
});

test('other request errors are redirected to the client: response_type, scope, prompt, max_age', async (t) => {
  const browser = new TestBrowser();
  const cases: [Record<string, string>, string, string][] = [
    [{ response_type: 'token' }, 'unsupported_response_type', 'Client is not allowed to initiate browser login with given response_type. Only response_type=code is supported by this server.'],
    [{ scope: 'openid nonsense' }, 'invalid_scope', 'Invalid scopes: openid nonsense'],
    [{ prompt: 'none login' }, 'invalid_request', 'Invalid parameter: prompt'],
    [{ max_age: 'soon' }, 'invalid_request', 'Invalid parameter: max_age'],
    [{ response_mode: 'form_post' }, 'invalid_request', 'Invalid parameter: response_mode'],
  ];
  for (const [params, error, description] of cases) {
    const { page, state } = await startAuth(h, browser, 'demo-app', params);
    t.is(page.status, 302, JSON.stringify(params));
    const q = page.location!.searchParams;
    t.is(q.get('error'), error);
    t.is(q.get('error_description'), description);
    t.is(q.get('state'), state);
    t.is(page.location!.origin + page.location!.pathname, CALLBACK);
  }
});

test('wrong password: the form again (200) with the error, the username kept, and a LOGIN_ERROR event', async (t) => {
  const browser = new TestBrowser();
  const { page } = await startAuth(h, browser, 'demo-app');
  const before = events.length;
  const res = await submitLogin(browser, page, 'alice', 'not-her-password');
  t.is(res.status, 200);
  t.regex(res.text, /<p class="alert" id="login-error" role="alert">Invalid username or password\.<\/p>/);
  t.regex(res.text, /name="username" type="text" value="alice"[^>]*aria-invalid="true"/);
  t.notRegex(res.text, /not-her-password/, 'the password is never echoed');
  t.is(browser.jar.get('KEYCLOAK_IDENTITY'), undefined);
  // Other tests run concurrently: pick this login's event by its username.
  const error = events.slice(before).find((e) => e.type === 'LOGIN_ERROR' && e.details?.['username'] === 'alice');
  t.truthy(error);
  t.is(error!.error, 'invalid_user_credentials');
  t.is(error!.userId, userId('alice'));
  t.is(error!.clientId, 'demo-app');

  const unknown = await submitLogin(browser, res, 'nobody', 'x');
  t.is(unknown.status, 200);
  t.regex(unknown.text, /Invalid username or password\./);
  t.true(events.some((e) => e.type === 'LOGIN_ERROR' && e.error === 'user_not_found' && e.details?.['username'] === 'nobody'));

  // The re-rendered form still works.
  t.is(codeOf(await submitLogin(browser, unknown, 'alice', 'alice-password')).location.searchParams.get('iss'), h.realmUrl('demo'));
});

test('a disabled user sees Keycloak\'s message; a user with required actions an error page', async (t) => {
  await h.addUser('demo', { username: 'dora', password: 'dora-pw', enabled: false });
  await h.addUser('demo', { username: 'ravi', password: 'ravi-pw', requiredActions: ['UPDATE_PASSWORD'] });
  const browser = new TestBrowser();
  const { page } = await startAuth(h, browser, 'demo-app');
  const disabled = await submitLogin(browser, page, 'dora', 'dora-pw');
  t.is(disabled.status, 200);
  t.regex(disabled.text, /Account is disabled, contact your administrator\./);
  const pending = await submitLogin(browser, disabled, 'ravi', 'ravi-pw');
  t.is(pending.status, 400);
  t.regex(pending.text, /Account is not fully set up/);
  t.is(pending.location, null);
});

test.serial('remember me: cookies live as long as the remember-me session max; the username is remembered', async (t) => {
  await h.updateRealm('demo', { sessions: { ssoSessionMaxLifespanRememberMe: 86400 } });
  t.teardown(async () => {
    await h.updateRealm('demo', { sessions: { ssoSessionMaxLifespanRememberMe: 0 } });
  });
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-app', { extra: { rememberMe: 'on' } });
  const identity = browser.jar.lastSet.get('KEYCLOAK_IDENTITY')!;
  t.is(identity.maxAge, 86400, 'max(ssoSessionMaxLifespan, ssoSessionMaxLifespanRememberMe)');
  t.is(claims(identity.value)['exp'] - claims(identity.value)['iat'], 86400);
  t.is(browser.jar.lastSet.get('KEYCLOAK_SESSION')!.maxAge, 86400);
  const remember = browser.jar.lastSet.get('KEYCLOAK_REMEMBER_ME')!;
  t.is(remember.value, 'username:alice');
  t.is(remember.maxAge, 31536000);
  t.true(remember.httpOnly);
  t.true((await h.node.engine.getSession(login.sessionState!))!.session.rememberMe);

  // The next form (re-authentication) offers the remembered username, box ticked.
  const { page } = await startAuth(h, browser, 'demo-app', { prompt: 'login' });
  t.is(page.status, 200);
  const form = parseForm(page.text);
  t.is(form.fields['username'], 'alice');
  t.is(form.fields['rememberMe'], 'on');
});

test('prompt=none without a session: login_required, no form', async (t) => {
  const { page, state } = await startAuth(h, new TestBrowser(), 'demo-app', { prompt: 'none' });
  t.is(page.status, 302);
  const q = page.location!.searchParams;
  t.is(q.get('error'), 'login_required');
  t.is(q.get('state'), state);
  t.is(q.get('iss'), h.realmUrl('demo'));
  t.is(q.get('code'), null);
});

test('prompt=login shows the form despite a valid SSO cookie; signing in again keeps the session', async (t) => {
  const browser = new TestBrowser();
  const first = await formLogin(h, browser, 'demo-app');
  const { page } = await startAuth(h, browser, 'demo-spa', { prompt: 'login' }, { pkce: true });
  t.is(page.status, 200);
  t.is(parseForm(page.text).fields['username'], 'alice', 'who is signed in');
  const second = codeOf(await submitLogin(browser, page, 'alice', 'alice-password'));
  t.is(second.sessionState, first.sessionState, 'the same user session (Keycloak: attachSession finds it)');
  const session = (await h.node.engine.getSession(first.sessionState!))!.session;
  t.is(session.clients.length, 2, 'both clients in it');
});

test('prompt=login as another user: a 400 page, a LOGIN_ERROR, and the signed-in session stays', async (t) => {
  const browser = new TestBrowser();
  const first = await formLogin(h, browser, 'demo-app');
  const { page } = await startAuth(h, browser, 'demo-app', { prompt: 'login' });
  const before = events.length;
  const res = await submitLogin(browser, page, 'bob', 'bob-password');
  t.is(res.status, 400);
  t.regex(res.text, /You are already authenticated as different user &#39;alice&#39; in this session\. Please sign out first\./);
  const error = events.slice(before).find((e) => e.type === 'LOGIN_ERROR' && e.details?.['username'] === 'bob');
  t.is(error?.error, 'different_user_authenticated');
  t.is(error?.details?.['existing_user'], userId('alice'));
  t.truthy(await h.node.engine.getSession(first.sessionState!));
});

test('an untrusted client or redirect URI gets an error page, never a redirect', async (t) => {
  const browser = new TestBrowser();
  const realmUrl = h.realmUrl('demo');
  const base = { response_type: 'code', scope: 'openid', state: 's' };
  const cases: [Record<string, string>, string][] = [
    [{ ...base, client_id: 'demo-app', redirect_uri: 'https://evil.example/callback' }, 'Invalid parameter: redirect_uri'],
    [{ ...base, client_id: 'demo-app', redirect_uri: 'http://127.0.0.1:5000@evil.example/cb' }, 'Invalid parameter: redirect_uri'],
    [{ ...base, client_id: 'demo-app', redirect_uri: 'http://127.0.0.1.evil.example/cb' }, 'Invalid parameter: redirect_uri'],
    [{ ...base, client_id: 'demo-app' }, 'Invalid parameter: redirect_uri'],
    [{ ...base, client_id: 'demo-service', redirect_uri: CALLBACK }, 'Invalid parameter: redirect_uri'],
    [{ ...base, client_id: 'nope', redirect_uri: CALLBACK }, 'Client not found.'],
    [{ ...base, redirect_uri: CALLBACK }, 'Missing parameter: client_id'],
  ];
  for (const [params, message] of cases) {
    const page = await browser.get(authorizationUrl(realmUrl, params));
    t.is(page.status, 400, JSON.stringify(params));
    t.is(page.location, null);
    t.regex(page.headers.get('content-type')!, /^text\/html/);
    t.true(page.text.includes(`role="alert">${message}</p>`), `${message} in ${page.text.slice(-300)}`);
  }
  const unknownRealm = await browser.get(authorizationUrl(`${h.baseUrl}/realms/nowhere`, { ...base, client_id: 'demo-app', redirect_uri: CALLBACK }));
  t.is(unknownRealm.status, 404);
  t.regex(unknownRealm.text, /Realm does not exist/);
});

test('reflected values are escaped', async (t) => {
  const hint = '"><script>alert(1)</script>';
  const { page } = await startAuth(h, new TestBrowser(), 'demo-app', { login_hint: hint });
  t.is(page.status, 200);
  t.false(page.text.includes('<script>'));
  t.true(page.text.includes('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"'));
  t.is(parseForm(page.text).fields['username'], hint);
});

test('CSRF: a missing, wrong or foreign token, or no AUTH_SESSION_ID, gets a 400 page and no session', async (t) => {
  const browser = new TestBrowser();
  const { page } = await startAuth(h, browser, 'demo-app');
  const form = parseForm(page.text);
  const credentials = { username: 'alice', password: 'alice-password' };

  const missing = await browser.post(form.action, { ...form.fields, ...credentials, csrf_token: '' });
  t.is(missing.status, 400);
  t.regex(missing.text, /The form is invalid or has expired/);
  const wrong = await browser.post(form.action, { ...form.fields, ...credentials, csrf_token: 'A'.repeat(86) });
  t.is(wrong.status, 400);

  // A token rendered for another browser (another AUTH_SESSION_ID) is refused too.
  const other = new TestBrowser();
  const otherForm = parseForm((await startAuth(h, other, 'demo-app')).page.text);
  const foreign = await browser.post(form.action, { ...form.fields, ...credentials, csrf_token: otherForm.fields['csrf_token']! });
  t.is(foreign.status, 400);

  const cookieless = new TestBrowser();
  const noCookie = await cookieless.post(form.action, { ...form.fields, ...credentials });
  t.is(noCookie.status, 400);
  t.regex(noCookie.text, /Cookie not found/);

  const tampered = form.fields['auth_request']!.replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ azp: 'demo-app', ru: 'https://evil.example/' })).toString('base64url')}.`);
  const forged = await browser.post(form.action, { ...form.fields, ...credentials, auth_request: tampered });
  t.is(forged.status, 400);
  for (const res of [missing, wrong, foreign, noCookie, forged]) t.is(res.location, null);
  t.is(browser.jar.get('KEYCLOAK_IDENTITY'), undefined);

  // The genuine submission still succeeds.
  t.truthy(codeOf(await browser.post(form.action, { ...form.fields, ...credentials })).code);
});

test('POST to the authorization endpoint works like GET', async (t) => {
  const browser = new TestBrowser();
  const page = await browser.post(`${h.realmUrl('demo')}/protocol/openid-connect/auth`, { client_id: 'demo-app', redirect_uri: CALLBACK, response_type: 'code', scope: 'openid' });
  t.is(page.status, 200);
  t.truthy(parseForm(page.text).fields['auth_request']);
});

test('a realm session limit with "deny": the second login ends on a 403 page and a LOGIN_ERROR', async (t) => {
  const r = await h.createRealm({
    overrides: { userSessionLimits: { realmLimit: 1, clientLimit: 0, behavior: 'deny' } },
    clients: [{ clientId: 'app', secret: 's', redirectUris: ['http://127.0.0.1:*/*'] }],
    users: [{ username: 'limited', password: 'pw' }],
  });
  const login = async (browser: TestBrowser) => submitLogin(browser, (await startAuth(h, browser, 'app', {}, { realm: r.name })).page, 'limited', 'pw');
  codeOf(await login(new TestBrowser()));
  const denied = await login(new TestBrowser());
  t.is(denied.status, 403);
  t.regex(denied.text, /There are too many sessions/);
  t.true(events.some((e) => e.type === 'LOGIN_ERROR' && e.realmId === r.realm.id && e.error === 'generic_authentication_error'));
});

test('exclude.session.state.from.auth.response leaves session_state out of the redirect', async (t) => {
  const r = await h.createRealm({
    clients: [{ clientId: 'app', secret: 's', redirectUris: ['http://127.0.0.1:*/*'], attributes: { 'exclude.session.state.from.auth.response': 'true' } }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const browser = new TestBrowser();
  const res = codeOf(await submitLogin(browser, (await startAuth(h, browser, 'app', {}, { realm: r.name })).page, 'u', 'pw'));
  t.is(res.sessionState, null);
  t.deepEqual([...res.location.searchParams.keys()], ['state', 'iss', 'code']);
});

test('form logins are counted in sessiond_logins_total', async (t) => {
  await formLogin(h, new TestBrowser(), 'demo-app', { username: 'bob', password: 'bob-password' });
  const metrics = await h.metrics();
  t.regex(metrics, /sessiond_logins_total\{realm="demo",outcome="success"\} [1-9]/);
});
