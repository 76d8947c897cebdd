// OIDC back-channel logout (docs/keycloak-semantics.md#what-clients-receive) end to end: a receiver HTTP
// server on 127.0.0.1 stands for the client's backend (its URL is the
// client's `backchannel.logout.url`), sessions end by the logout endpoint,
// by the admin API (user logout, session delete) and by a refresh of a
// session that has gone invalid; the logout_token each client receives is
// verified with jose against the realm's JWKS. A receiver that fails is
// retried a bounded number of times, counted as a failure, and never holds
// up the logout response.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { BACKCHANNEL_ATTEMPTS_MAX, BACKCHANNEL_EVENT } from '../../../src/logout/backchannel-logout.js';
import { startNode, type TestNode, type TestRealm } from '../../helpers/node-harness.js';

interface Delivery {
  path: string;
  contentType: string | undefined;
  logoutToken: string;
}

/** A back-channel receiver: records every POST; `handler` decides the answer (default 200). */
class Receiver {
  readonly server: Server;
  readonly deliveries: Delivery[] = [];
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(200).end();
  #waiters: { n: number; resolve: () => void }[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        this.deliveries.push({ path: req.url ?? '', contentType: req.headers['content-type'], logoutToken: new URLSearchParams(body).get('logout_token') ?? '' });
        for (const w of this.#waiters.splice(0)) {
          if (this.deliveries.length >= w.n) w.resolve();
          else this.#waiters.push(w);
        }
        this.handler(req, res);
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` deliveries arrived in total. */
  received(n: number): Promise<void> {
    if (this.deliveries.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }

  for(path: string): Delivery[] {
    return this.deliveries.filter((d) => d.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let h: TestNode;
let receiver: Receiver;
let receiverUrl: string;

test.before(async () => {
  h = await startNode({ manualClock: true, idleGraceSeconds: 0, demo: false });
  receiver = new Receiver();
  receiverUrl = await receiver.start();
});
test.after.always(async () => {
  await h?.stop();
  await receiver?.stop();
});

/** A realm whose client `app` (and `app2`) post to the receiver under a path unique to the realm. */
async function realm(extra: Record<string, string> = {}, sessions: Record<string, unknown> = {}): Promise<TestRealm & { path: (c: string) => string }> {
  const tag = Math.random().toString(36).slice(2, 8);
  const path = (c: string): string => `/${tag}/${c}`;
  const r = await h.createRealm({
    overrides: { sessions },
    clients: [
      { clientId: 'app', secret: 's', directAccessGrantsEnabled: true, attributes: { 'backchannel.logout.url': receiverUrl + path('app'), ...extra } },
      { clientId: 'app2', secret: 's', directAccessGrantsEnabled: true, attributes: { 'backchannel.logout.url': receiverUrl + path('app2') } },
      { clientId: 'plain', secret: 's', directAccessGrantsEnabled: true },
    ],
    users: [{ username: 'u', password: 'pw' }],
  });
  return { ...r, path };
}

async function verifyLogoutToken(r: TestRealm, token: string, audience: string): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL(h.oidcUrl(r.name, 'certs')));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: r.issuer, audience, typ: 'logout+jwt', currentDate: new Date(h.now() * 1000) });
  if (protectedHeader.typ !== 'logout+jwt') throw new Error(`typ header ${String(protectedHeader.typ)}`);
  return payload;
}

/** Two sessions' worth of tokens: `app` in one session, `app2` joined into the same SSO session through a code. */
async function loginBoth(r: TestRealm): Promise<{ sid: string; app: Record<string, any>; app2: Record<string, any> }> {
  const app = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const sid = app.session_state!;
  const app2Id = r.clients.get('app2')!.id;
  await h.node.engine.attachClient(sid, r.realm.id, { client: app2Id, scope: 'openid', ssoAuth: true });
  const code = 'c' + Math.random().toString(36).slice(2);
  await h.node.engine.putCode(sid, code, { client: app2Id, redirectUri: 'http://127.0.0.1/cb', scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: true });
  const res = await h.token(r.name, { grant_type: 'authorization_code', client_id: 'app2', client_secret: 's', code: `${code}.${sid}`, redirect_uri: 'http://127.0.0.1/cb' });
  if (res.status !== 200) throw new Error(res.text);
  return { sid, app, app2: res.body };
}

async function adminToken(): Promise<string> {
  return (await h.login('master', ['admin-cli', null], 'admin', 'admin')).access_token;
}

test.serial('logout with a refresh token: every client of the session with a URL gets a verified logout_token', async (t) => {
  const r = await realm();
  const { sid, app } = await loginBoth(r);
  // A plain client in the same session has no URL and gets nothing.
  await h.node.engine.attachClient(sid, r.realm.id, { client: r.clients.get('plain')!.id, scope: 'openid' });
  const res = await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: app.refresh_token, client_id: 'app', client_secret: 's' });
  t.is(res.status, 204);
  await h.node.backchannel.idle();
  const user = r.users.get('u')!;
  for (const c of ['app', 'app2']) {
    const got = receiver.for(r.path(c));
    t.is(got.length, 1, c);
    t.is(got[0]!.contentType, 'application/x-www-form-urlencoded');
    const p = await verifyLogoutToken(r, got[0]!.logoutToken, c);
    t.is(p.iss, r.issuer);
    t.is(p.aud, c);
    t.is(p.sub, user.id);
    t.is(p['sid'], sid);
    t.deepEqual(p['events'], { [BACKCHANNEL_EVENT]: {} });
    t.is(typeof p.jti, 'string');
    t.is(p.iat, h.now());
    t.is(p.exp, h.now() + 120);
    t.false('nonce' in p, 'a logout token never carries a nonce');
  }
  t.is(receiver.for(r.path('plain')).length, 0);
});

test.serial('admin user logout and admin session delete send back-channel logouts', async (t) => {
  const r = await realm();
  const token = await adminToken();
  const user = r.users.get('u')!;
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const b = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const res = await h.post(`${h.baseUrl}/admin/realms/${r.name}/users/${user.id}/logout`, '{}', { contentType: 'application/json', headers: { authorization: `Bearer ${token}` } });
  t.is(res.status, 204, res.text);
  await h.node.backchannel.idle();
  const sids = await Promise.all(receiver.for(r.path('app')).map(async (d) => (await verifyLogoutToken(r, d.logoutToken, 'app'))['sid']));
  t.deepEqual(sids.sort(), [a.session_state, b.session_state].sort());

  const c = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const del = await fetch(`${h.baseUrl}/admin/realms/${r.name}/sessions/${c.session_state}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  t.is(del.status, 204);
  await h.node.backchannel.idle();
  const last = receiver.for(r.path('app')).at(-1)!;
  t.is((await verifyLogoutToken(r, last.logoutToken, 'app'))['sid'], c.session_state);
});

test.serial('engine.logoutUser ended sessions, notified by the caller, reach the receiver', async (t) => {
  const r = await realm();
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const ended = await h.node.engine.logoutUser(r.realm.id, r.users.get('u')!.id);
  t.is(ended.length, 1);
  h.node.backchannel.notify(r.realm.id, r.issuer, ended, h.now());
  await h.node.backchannel.idle();
  const got = receiver.for(r.path('app'));
  t.is(got.length, 1);
  t.is((await verifyLogoutToken(r, got[0]!.logoutToken, 'app'))['sid'], a.session_state);
});

test.serial('session.required false drops sid; revoke.offline.tokens adds revoke_offline_access', async (t) => {
  const r = await realm({ 'backchannel.logout.session.required': 'false', 'backchannel.logout.revoke.offline.tokens': 'true' });
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  t.is((await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: a.refresh_token!, client_id: 'app', client_secret: 's' })).status, 204);
  await h.node.backchannel.idle();
  const p = await verifyLogoutToken(r, receiver.for(r.path('app'))[0]!.logoutToken, 'app');
  t.false('sid' in p);
  t.deepEqual(p['events'], { [BACKCHANNEL_EVENT]: {}, revoke_offline_access: true });
});

test.serial('a refresh on a session that went invalid logs it out, back-channel included', async (t) => {
  const r = await realm({}, { ssoSessionIdleTimeout: 5 });
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw', 'openid');
  // Time passes but the expiry timers have not fired yet (the clock moved, the wheel did not).
  // At exactly the idle expiry the refresh token is still active (exp is inclusive) but the session is not.
  h.clock!.advance(5);
  const res = await h.refresh(r.name, ['app', 's'], a.refresh_token!);
  t.deepEqual(res.body, { error: 'invalid_grant', error_description: 'Session not active' });
  await h.node.backchannel.idle();
  const got = receiver.for(r.path('app'));
  t.is(got.length, 1);
  t.is((await verifyLogoutToken(r, got[0]!.logoutToken, 'app'))['sid'], a.session_state);
  t.is(await h.node.engine.getSession(a.session_state!), null);
  await h.advance(0);
});

test.serial('expiry by the timers sends no back-channel logout', async (t) => {
  const r = await realm({}, { ssoSessionIdleTimeout: 5 });
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  await h.advance(6);
  t.is(await h.node.engine.getSession(a.session_state!), null);
  await h.node.backchannel.idle();
  t.is(receiver.for(r.path('app')).length, 0);
});

async function failures(): Promise<number> {
  const metric = h.node.metrics.registry.getSingleMetric('sessiond_backchannel_logout_total');
  const values = (await metric!.get()).values;
  return values.find((v) => v.labels['outcome'] === 'failure')?.value ?? 0;
}

test.serial('a failing receiver is retried a bounded number of times, counted, and never holds up the logout', async (t) => {
  const r = await realm();
  const a = await h.login(r.name, ['app', 's'], 'u', 'pw');
  const before = await failures();
  const held: ServerResponse[] = [];
  receiver.handler = (req, res) => {
    if (req.url?.startsWith(r.path('app'))) held.push(res);
    else res.writeHead(200).end();
  };
  try {
    const started = Date.now();
    const res = await h.post(h.oidcUrl(r.name, 'logout'), { refresh_token: a.refresh_token!, client_id: 'app', client_secret: 's' });
    t.is(res.status, 204);
    t.is(await h.node.engine.getSession(a.session_state!), null);
    t.true(Date.now() - started < 2_000);
    // The first delivery is held by the receiver: the logout answered without waiting for it.
    const count = receiver.deliveries.length;
    await receiver.received(count + (held.length === 0 ? 1 : 0));
    t.is(held.length, 1);
    t.is(h.node.backchannel.pending, 1);
    // Now the receiver answers 500 to it and to every retry.
    receiver.handler = (_req, res2) => res2.writeHead(500).end('boom');
    held[0]!.writeHead(500).end('boom');
    await h.node.backchannel.idle();
  } finally {
    receiver.handler = (_req, res) => res.writeHead(200).end();
  }
  t.is(receiver.for(r.path('app')).length, BACKCHANNEL_ATTEMPTS_MAX);
  t.is(await failures(), before + 1);
  const text = await h.metrics();
  t.regex(text, /sessiond_backchannel_logout_total\{outcome="failure"\} [1-9]/);
  // The node is fine: a new login works.
  t.is((await h.login(r.name, ['app', 's'], 'u', 'pw')).token_type, 'Bearer');
});

test.serial('${application.session.host} in the URL is the host the adapter gave at code exchange', async (t) => {
  const tag = Math.random().toString(36).slice(2, 8);
  const port = new URL(receiverUrl).port;
  const r = await h.createRealm({
    clients: [{ clientId: 'legacy', secret: 's', directAccessGrantsEnabled: true, attributes: { 'backchannel.logout.url': `http://\${application.session.host}/${tag}/legacy` } }],
    users: [{ username: 'u', password: 'pw' }],
  });
  const legacy = r.clients.get('legacy')!.id;
  /** A session whose `legacy` client session came from a code exchange with these adapter fields. */
  const sessionWith = async (adapter: Record<string, string>): Promise<string> => {
    const login = await h.login(r.name, ['legacy', 's'], 'u', 'pw');
    const sid = login.session_state!;
    const code = 'c' + Math.random().toString(36).slice(2);
    await h.node.engine.putCode(sid, code, { client: legacy, redirectUri: 'http://127.0.0.1/cb', scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp: h.now() + 60, ssoAuth: true });
    const res = await h.token(r.name, { grant_type: 'authorization_code', client_id: 'legacy', client_secret: 's', code: `${code}.${sid}`, redirect_uri: 'http://127.0.0.1/cb', ...adapter });
    if (res.status !== 200) throw new Error(res.text);
    return sid;
  };

  const good = await sessionWith({ client_session_state: 'adapter-session-1', client_session_host: `127.0.0.1:${port}` });
  const notes = (await h.node.engine.getSession(good))!.session.clients.find((c) => c.client === legacy)!.notes;
  t.deepEqual(notes, { client_session_state: 'adapter-session-1', client_session_host: `127.0.0.1:${port}` });
  // A host that would rewrite more than the host part is not kept; without a state nothing is.
  const forged = await sessionWith({ client_session_state: 'adapter-session-2', client_session_host: `evil.example/x?@127.0.0.1:${port}` });
  const none = await sessionWith({ client_session_host: `127.0.0.1:${port}` });
  t.deepEqual((await h.node.engine.getSession(none))!.session.clients.find((c) => c.client === legacy)!.notes, null);

  const failuresBefore = await backchannelFailures();
  for (const sid of [good, forged, none]) h.node.backchannel.notify(r.realm.id, r.issuer, [(await h.node.engine.logoutSession(sid))!], h.now());
  await h.node.backchannel.idle();
  const got = receiver.for(`/${tag}/legacy`);
  t.is(got.length, 1, 'only the session with a host is delivered');
  t.is((await verifyLogoutToken(r, got[0]!.logoutToken, 'legacy'))['sid'], good);
  t.is((await backchannelFailures()) - failuresBefore, 2, 'the two without a host count as failures');
});

async function backchannelFailures(): Promise<number> {
  const text = await h.metrics();
  const line = text.split('\n').find((l) => l.startsWith('sessiond_backchannel_logout_total{') && l.includes('outcome="failure"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}
