// The browser flow in a real browser: Debian's Chromium driven by
// playwright-core against a node in this process, with a tiny relying party
// (an HTTP server of this test) on another 127.0.0.1 port. The RP sends the
// browser to the auth endpoint; Chromium finds the login form's fields by
// their labels (the page must be accessible for that), fails once, signs in,
// and lands on the RP's callback, which exchanges the code for tokens. A
// second confidential client then logs in with no form (SSO) and its client
// session joins the same user session; an RP-initiated logout brings the
// browser back to the RP and clears the SSO cookies. What a script cannot
// fake is checked on the way: Set-Cookie handling (SameSite=Lax on http),
// the CSP's form-action admitting the redirect after the form POST, and
// navigation by labels and roles.
//
// Without /usr/bin/chromium the test is skipped with the reason, except in CI
// (CI=true), where it must run: .ci/run installs Chromium first.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { pkcePair } from '../../../helpers/browser-client.js';
import { claims, startNode, type TestNode } from '../../../helpers/node-harness.js';

const CHROMIUM = '/usr/bin/chromium';
// This machine's network is closed: without these Chromium waits on connections it never gets.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface RpClient {
  clientId: string;
  secret: string;
}

interface RpLogin {
  client: string;
  status: number;
  tokens: Record<string, any>;
}

/**
 * The relying party: /login?client=X starts a code flow (state, nonce,
 * PKCE S256), /callback exchanges the code with client_secret_post and shows
 * who signed in, /logged-out shows the state it got back.
 */
class RelyingParty {
  readonly logins: RpLogin[] = [];
  readonly #pending = new Map<string, { client: RpClient; verifier: string; nonce: string }>();
  readonly #server: Server;
  readonly #clients: Map<string, RpClient>;
  readonly #realmUrl: string;
  base = '';

  constructor(realmUrl: string, clients: RpClient[]) {
    this.#realmUrl = realmUrl;
    this.#clients = new Map(clients.map((c) => [c.clientId, c]));
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const html = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!DOCTYPE html><html lang="en"><head><title>RP</title></head><body>${body}</body></html>`);
    };
    if (url.pathname === '/login') {
      const client = this.#clients.get(url.searchParams.get('client') ?? '');
      if (client === undefined) return html(400, 'unknown client');
      const state = randomBytes(12).toString('base64url');
      const nonce = randomBytes(12).toString('base64url');
      const pkce = pkcePair();
      this.#pending.set(state, { client, verifier: pkce.verifier, nonce });
      const auth = new URL(`${this.#realmUrl}/protocol/openid-connect/auth`);
      for (const [k, v] of Object.entries({ client_id: client.clientId, redirect_uri: `${this.base}/callback`, response_type: 'code', scope: 'openid', state, nonce, code_challenge: pkce.challenge, code_challenge_method: 'S256' })) {
        auth.searchParams.set(k, v);
      }
      res.writeHead(302, { location: auth.href }).end();
      return;
    }
    if (url.pathname === '/callback') {
      const pending = this.#pending.get(url.searchParams.get('state') ?? '');
      const code = url.searchParams.get('code');
      if (pending === undefined || code === null) return html(400, `no code: ${url.search}`);
      this.#pending.delete(url.searchParams.get('state')!);
      const token = await fetch(`${this.#realmUrl}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${this.base}/callback`, client_id: pending.client.clientId, client_secret: pending.client.secret, code_verifier: pending.verifier }).toString(),
      });
      const tokens = (await token.json()) as Record<string, any>;
      this.logins.push({ client: pending.client.clientId, status: token.status, tokens });
      if (token.status !== 200) return html(502, `token exchange failed: ${JSON.stringify(tokens)}`);
      const id = claims(tokens['id_token']);
      if (id['nonce'] !== pending.nonce) return html(502, 'nonce mismatch');
      return html(200, `<h1>Signed in to ${pending.client.clientId}</h1><p id="user">${String(id['preferred_username'])}</p><p id="sid">${String(id['sid'])}</p>`);
    }
    if (url.pathname === '/logged-out') return html(200, `<h1>Signed out</h1><p id="state">${url.searchParams.get('state') ?? ''}</p>`);
    return html(404, 'not found');
  }
}

const chromiumMissing = !existsSync(CHROMIUM);
const runner = chromiumMissing && process.env['CI'] === undefined ? test.skip : test.serial;
const title = chromiumMissing && process.env['CI'] === undefined
  ? `Chromium: form login, SSO and logout in a real browser — SKIPPED: ${CHROMIUM} is not installed (apt-get install -y chromium); CI installs it and runs this test`
  : 'Chromium: form login, SSO for a second client joining the session, RP-initiated logout';

runner(title, async (t) => {
  t.timeout(120_000);
  if (chromiumMissing) {
    t.fail(`${CHROMIUM} is missing in CI: .ci/run must install Debian's chromium before the tests`);
    return;
  }
  const h: TestNode = await startNode();
  t.teardown(() => h.stop());
  const second: RpClient = { clientId: 'rp-two', secret: 'rp-two-secret' };
  await h.putClient('demo', { clientId: second.clientId, secret: second.secret, publicClient: false, redirectUris: ['http://127.0.0.1:*/*'], attributes: { 'post.logout.redirect.uris': '+' } });
  const rp = new RelyingParty(h.realmUrl('demo'), [{ clientId: 'demo-app', secret: 'demo-secret' }, second]);
  await rp.listen();
  t.teardown(() => rp.close());
  const shots = mkdtempSync(join(tmpdir(), 'sessiond-chromium-'));
  if (process.env['SESSIOND_KEEP_SCREENSHOTS'] === undefined) t.teardown(() => rmSync(shots, { recursive: true, force: true }));

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const authResponses: number[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.endsWith('/protocol/openid-connect/auth')) authResponses.push(response.status());
  });

  // 1. The RP sends the browser to the login page; the fields are found by their labels.
  await page.goto(`${rp.base}/login?client=demo-app`);
  await page.getByLabel('Username').waitFor();
  t.is(await page.title(), 'Sign in to your account');
  const screenshot = join(shots, 'login-page.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  t.true(statSync(screenshot).size > 1000, 'a screenshot of the login page');
  t.log(`login page screenshot: ${screenshot}${process.env['SESSIOND_KEEP_SCREENSHOTS'] === undefined ? ' (removed after the test; set SESSIOND_KEEP_SCREENSHOTS to keep it)' : ''}`);
  t.is(await page.getByRole('textbox', { name: 'Username or email' }).count(), 1);
  t.is(await page.getByLabel('Password').getAttribute('type'), 'password');
  t.is(await page.getByRole('checkbox', { name: 'Remember me' }).count(), 1);

  // 2. A wrong password: the form again, the error announced to assistive technology.
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign In' }).click();
  await page.getByRole('alert').waitFor();
  t.is((await page.getByRole('alert').textContent())?.trim(), 'Invalid username or password.');
  t.is(await page.getByLabel('Username').inputValue(), 'alice');

  // 3. The right password: back at the RP, which got tokens for the code.
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign In' }).click();
  await page.waitForURL(`${rp.base}/callback?**`);
  t.is(await page.locator('#user').textContent(), 'alice');
  const first = rp.logins.at(-1)!;
  t.is(first.status, 200, JSON.stringify(first.tokens));
  t.is(first.client, 'demo-app');
  const sid = first.tokens['session_state'] as string;
  t.is(await page.locator('#sid').textContent(), sid);
  const cookies = await context.cookies(`${h.realmUrl('demo')}/`);
  const identity = cookies.find((c) => c.name === 'KEYCLOAK_IDENTITY');
  t.truthy(identity, 'Chromium stored the identity cookie');
  t.true(identity!.httpOnly);
  t.is(identity!.sameSite, 'Lax');
  t.is(identity!.path, '/realms/demo/');
  t.truthy(cookies.find((c) => c.name === 'KEYCLOAK_SESSION'));
  t.deepEqual(authResponses, [200], 'one login form');

  // 4. The second client: no form (SSO); its client session joins the same user session.
  authResponses.length = 0;
  await page.goto(`${rp.base}/login?client=${second.clientId}`);
  await page.waitForURL(`${rp.base}/callback?**`);
  t.deepEqual(authResponses, [302], 'straight back with a code');
  const sso = rp.logins.at(-1)!;
  t.is(sso.client, second.clientId);
  t.is(sso.status, 200, JSON.stringify(sso.tokens));
  t.is(sso.tokens['session_state'], sid);
  t.is(claims(sso.tokens['id_token'])['acr'], '0');
  const realm = h.realm('demo');
  const got = await h.node.engine.getSession(sid);
  t.deepEqual(
    got!.session.clients.map((c) => c.client).sort(),
    [h.node.store.clientByClientId(realm.id, 'demo-app')!.id, h.node.store.clientByClientId(realm.id, second.clientId)!.id].sort(),
  );

  // 5. RP-initiated logout: back at the RP with the state, session and cookies gone.
  const logout = new URL(`${h.realmUrl('demo')}/protocol/openid-connect/logout`);
  logout.searchParams.set('id_token_hint', sso.tokens['id_token']);
  logout.searchParams.set('post_logout_redirect_uri', `${rp.base}/logged-out`);
  logout.searchParams.set('state', 'bye');
  await page.goto(logout.href);
  await page.waitForURL(`${rp.base}/logged-out?state=bye`);
  t.is(await page.locator('#state').textContent(), 'bye');
  t.is(await h.node.engine.getSession(sid), null);
  const after = await context.cookies(`${h.realmUrl('demo')}/`);
  t.false(after.some((c) => c.name === 'KEYCLOAK_IDENTITY' || c.name === 'KEYCLOAK_SESSION'));

  // 6. The next login needs the form again.
  await page.goto(`${rp.base}/login?client=demo-app`);
  await page.getByLabel('Username').waitFor();
  t.is(await page.getByLabel('Username').inputValue(), '');
});
