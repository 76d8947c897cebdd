// Single sign-on through KEYCLOAK_IDENTITY, in virtual time (ManualClock):
// a second client logs in with no form and joins the same user session; SSO
// moves the user idle clock; max_age and prompt=none against AUTH_TIME; an
// expired client session is restarted; cookies of ended sessions or from
// before the realm's not-before do not log anyone in; an expired login form
// restarts the login.

import test from 'ava';
import type { UserEvent } from '../../../../src/events/event-sink.js';
import { parseForm, TestBrowser } from '../../../helpers/browser-client.js';
import { claims, DEMO_APP, DEMO_SPA, startNode, type TestNode, type TestRealm } from '../../../helpers/node-harness.js';
import { CALLBACK, codeOf, exchangeCode, formLogin, startAuth, submitLogin } from './browser-flow.js';

let h: TestNode;
const events: UserEvent[] = [];

test.before(async () => {
  h = await startNode({ manualClock: true });
  h.node.events.onEvent((e) => events.push(e));
});
test.after.always(async () => {
  await h?.stop();
});

const clientUuid = (clientId: string, realm = 'demo'): string => h.node.store.clientByClientId(h.realm(realm).id, clientId)!.id;

/** A realm of its own, so that changing its settings cannot disturb the other tests. */
function isolatedRealm(sessions: Record<string, number> = {}): Promise<TestRealm> {
  const client = (clientId: string) => ({ clientId, secret: `${clientId}-secret`, redirectUris: ['http://127.0.0.1:*/*'] });
  return h.createRealm({ overrides: { sessions }, clients: [client('a'), client('b')], users: [{ username: 'u', password: 'pw' }] });
}

test.serial('a second client logs in with no form and its client session joins the same user session', async (t) => {
  const browser = new TestBrowser();
  const first = await formLogin(h, browser, 'demo-app');
  const sid = first.sessionState!;
  const before = events.length;

  const second = await startAuth(h, browser, 'demo-spa', {}, { pkce: true });
  t.is(second.page.status, 302, 'no login form');
  const code = codeOf(second.page);
  t.is(code.sessionState, sid);
  t.is(code.location.searchParams.get('state'), second.state);

  const got = await h.node.engine.getSession(sid);
  t.deepEqual(got!.session.clients.map((c) => c.client).sort(), [clientUuid('demo-app'), clientUuid('demo-spa')].sort());
  t.true(got!.session.clients.find((c) => c.client === clientUuid('demo-spa'))!.ssoAuth);

  const tokens = await exchangeCode(h, DEMO_SPA, code.code, second.pkce!.verifier);
  t.is(tokens.status, 200, tokens.text);
  t.is(tokens.body.session_state, sid);
  t.is(claims(tokens.body.id_token)['acr'], '0', 'an SSO login');
  t.is(claims(tokens.body.id_token)['nonce'], second.nonce);
  const login = events.slice(before).find((e) => e.type === 'LOGIN');
  t.is(login?.clientId, 'demo-spa');
  t.is(login?.sessionId, sid);

  // The first client's code still works: both clients hold tokens of one session.
  const app = await exchangeCode(h, DEMO_APP, first.code);
  t.is(app.status, 200);
  t.is(app.body.session_state, sid);
});

test.serial('SSO moves the user idle clock; AUTH_TIME stays', async (t) => {
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-app');
  const sid = login.sessionState!;
  const started = h.now();
  await h.advance(100);
  codeOf((await startAuth(h, browser, 'demo-spa', {}, { pkce: true })).page);
  const session = (await h.node.engine.getSession(sid))!.session;
  t.is(session.lastSessionRefresh, started + 100);
  t.is(session.authTime, started);
});

test.serial('max_age against AUTH_TIME: within it SSO, past it the form (and login_required with prompt=none); signing in keeps the session, AUTH_TIME moves', async (t) => {
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-app');
  const first = (await h.node.engine.getSession(login.sessionState!))!;
  await h.advance(10);
  t.is((await startAuth(h, browser, 'demo-app', { max_age: '60' })).page.status, 302);
  const form = await startAuth(h, browser, 'demo-app', { max_age: '5' });
  t.is(form.page.status, 200);
  t.is(parseForm(form.page.text).fields['username'], 'alice');
  const passive = await startAuth(h, browser, 'demo-app', { max_age: '5', prompt: 'none' });
  t.is(passive.page.location!.searchParams.get('error'), 'login_required');
  // Logging in again satisfies max_age: the same session, a new AUTH_TIME.
  const again = codeOf(await submitLogin(browser, form.page, 'alice', 'alice-password'));
  t.is(again.sessionState, first.session.id);
  const tokens = await exchangeCode(h, DEMO_APP, again.code);
  t.is(claims(tokens.body.id_token)['auth_time'], h.now());
  const after = (await h.node.engine.getSession(again.sessionState!))!.session;
  t.is(after.authTime, h.now());
  t.is(after.started, first.session.started, 'not restarted');
});

test.serial('an expired client session is restarted by SSO; the user session lives on', async (t) => {
  const r = await isolatedRealm({ clientSessionIdleTimeout: 60 });
  const browser = new TestBrowser();
  const first = codeOf(await submitLogin(browser, (await startAuth(h, browser, 'a', {}, { realm: r.name })).page, 'u', 'pw'));
  const sid = first.sessionState!;
  await h.advance(200); // past the 60 s client idle timeout plus the 120 s grace window
  const before = (await h.node.engine.getSession(sid))!;
  // Expired: removed by the shard's expiry already, or at least invalid.
  t.not(before.clientsInvalid[r.clients.get('a')!.id], null);
  const second = codeOf((await startAuth(h, browser, 'a', {}, { realm: r.name })).page);
  t.is(second.sessionState, sid);
  const after = (await h.node.engine.getSession(sid))!;
  const cs = after.session.clients.find((c) => c.client === r.clients.get('a')!.id)!;
  t.is(cs.started, h.now(), 'restarted');
  t.is(after.clientsInvalid[r.clients.get('a')!.id], null);
});

test.serial('a session that ended does not log in: the form, and the identity cookie expired', async (t) => {
  const browser = new TestBrowser();
  const login = await formLogin(h, browser, 'demo-app');
  await h.node.engine.logoutSession(login.sessionState!);
  const { page } = await startAuth(h, browser, 'demo-app');
  t.is(page.status, 200);
  t.is(browser.jar.lastSet.get('KEYCLOAK_IDENTITY')?.maxAge, 0);
  t.is(browser.jar.lastSet.get('KEYCLOAK_SESSION')?.maxAge, 0);
});

test.serial('an identity cookie issued before the realm not-before does not log in', async (t) => {
  const r = await isolatedRealm();
  const browser = new TestBrowser();
  codeOf(await submitLogin(browser, (await startAuth(h, browser, 'a', {}, { realm: r.name })).page, 'u', 'pw'));
  t.is((await startAuth(h, browser, 'b', {}, { realm: r.name })).page.status, 302, 'SSO works before');
  await h.advance(1);
  await h.updateRealm(r.name, { sessions: { notBefore: h.now() } });
  t.is((await startAuth(h, browser, 'b', {}, { realm: r.name })).page.status, 200);
});

test.serial('an idle-expired session does not log in', async (t) => {
  const r = await isolatedRealm({ ssoSessionIdleTimeout: 60 });
  const browser = new TestBrowser();
  codeOf(await submitLogin(browser, (await startAuth(h, browser, 'a', {}, { realm: r.name })).page, 'u', 'pw'));
  await h.advance(59);
  t.is((await startAuth(h, browser, 'b', {}, { realm: r.name })).page.status, 302, 'within the idle timeout (and it moves the clock)');
  await h.advance(200);
  t.is((await startAuth(h, browser, 'b', {}, { realm: r.name })).page.status, 200);
});

test.serial('an expired login form restarts the login with a fresh form', async (t) => {
  const browser = new TestBrowser();
  const { page } = await startAuth(h, browser, 'demo-app');
  await h.advance(h.realm('demo').sessions.accessCodeLifespanLogin + 1);
  const restarted = await submitLogin(browser, page, 'alice', 'alice-password');
  t.is(restarted.status, 200);
  t.regex(restarted.text, /Your login attempt timed out\. Login will start from the beginning\./);
  t.is(browser.jar.get('KEYCLOAK_IDENTITY'), undefined);
  const done = codeOf(await submitLogin(browser, restarted, 'alice', 'alice-password'));
  t.is(done.location.origin + done.location.pathname, CALLBACK);
});
