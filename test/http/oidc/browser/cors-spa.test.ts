// The demo SPA from a page on another origin, in Debian's Chromium: a page
// served by this test on its own 127.0.0.1 port sends the browser to the auth
// endpoint (code + PKCE S256, public client demo-spa), the user signs in, and
// back on the page its script exchanges the code and refreshes the tokens with
// fetch(): the browser admits the answers only if the preflight and the CORS
// headers are right. An origin the client does not list gets no
// Access-Control-Allow-Origin, so the browser refuses to hand over the answer.
//
// Without /usr/bin/chromium the test is skipped with the reason, except in CI.

import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { chromium } from 'playwright-core';
import { authorizationUrl, pkcePair } from '../../../helpers/browser-client.js';
import { startNode, type TestNode } from '../../../helpers/node-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const chromiumMissing = !existsSync(CHROMIUM);
const runner = chromiumMissing && process.env['CI'] === undefined ? test.skip : test.serial;

/** A static page server (the SPA's origin): every path answers the same small page. */
async function pageServer(): Promise<{ base: string; server: Server }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>spa</title><p id="spa">spa</p>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

runner(chromiumMissing ? `(skipped: ${CHROMIUM} missing) SPA code + PKCE login and refresh with fetch from another origin` : 'SPA code + PKCE login and refresh with fetch from another origin', async (t) => {
  t.timeout(120_000);
  const h: TestNode = await startNode();
  t.teardown(() => h.stop());
  const spa = await pageServer();
  t.teardown(() => {
    spa.server.closeAllConnections();
    spa.server.close();
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  page.setDefaultTimeout(20_000);

  const { verifier, challenge } = pkcePair();
  const redirectUri = `${spa.base}/callback`;
  await page.goto(authorizationUrl(h.realmUrl('demo'), {
    client_id: 'demo-spa', response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 's1', code_challenge: challenge, code_challenge_method: 'S256',
  }));
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Sign In' }).click();
  await page.waitForURL(`${redirectUri}?**`);
  const code = new URL(page.url()).searchParams.get('code')!;
  t.truthy(code);

  // The page's own script, on the SPA's origin: fetch() to the node's token endpoint.
  const tokenUrl = h.oidcUrl('demo', 'token');
  const result = await page.evaluate(async ({ tokenUrl, code, verifier, redirectUri }) => {
    const post = async (form: Record<string, string>): Promise<{ status: number; body: any }> => {
      const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-requested-with': 'XMLHttpRequest' }, body: new URLSearchParams(form) });
      return { status: res.status, body: await res.json() };
    };
    const exchanged = await post({ grant_type: 'authorization_code', client_id: 'demo-spa', code, code_verifier: verifier, redirect_uri: redirectUri });
    const refreshed = await post({ grant_type: 'refresh_token', client_id: 'demo-spa', refresh_token: exchanged.body.refresh_token });
    return { exchanged, refreshed };
  }, { tokenUrl, code, verifier, redirectUri });
  t.is(result.exchanged.status, 200, JSON.stringify(result.exchanged.body));
  t.truthy(result.exchanged.body.access_token);
  t.is(result.refreshed.status, 200, JSON.stringify(result.refreshed.body));
  t.is(result.refreshed.body.session_state, result.exchanged.body.session_state);

  // certs may be read from any origin.
  const certs = await page.evaluate(async (url) => (await fetch(url)).status, h.oidcUrl('demo', 'certs'));
  t.is(certs, 200);

  // A client whose web origins do not list the page's origin: the browser refuses the answer.
  await h.putClient('demo', { clientId: 'elsewhere', publicClient: true, redirectUris: ['https://app.example.test/*'], webOrigins: ['+'], directAccessGrantsEnabled: true });
  const refused = await page.evaluate(async (url) => {
    try {
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', client_id: 'elsewhere', username: 'alice', password: 'alice-password' }) });
      return 'read';
    } catch (err) {
      return `refused: ${String(err)}`;
    }
  }, tokenUrl);
  t.regex(refused, /^refused/);
});

test('preflight and CORS headers follow the client\'s web origins (over plain HTTP)', async (t) => {
  const h = await startNode();
  t.teardown(() => h.stop());
  const origin = 'http://127.0.0.1:5173';
  const pre = await fetch(h.oidcUrl('demo', 'token'), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  t.is(pre.status, 200);
  t.is(pre.headers.get('access-control-allow-origin'), origin);
  t.is(pre.headers.get('access-control-allow-credentials'), 'true');
  t.regex(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  t.regex(pre.headers.get('access-control-allow-headers') ?? '', /Authorization/);
  for (const path of ['userinfo', 'logout', 'certs', 'token/introspect', 'revoke']) {
    const res = await fetch(h.oidcUrl('demo', path), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    t.is(res.headers.get('access-control-allow-origin'), origin, path);
  }
  // demo-app: `+` with http://127.0.0.1:*/* admits any port of 127.0.0.1; another host is not admitted.
  const form = { grant_type: 'password', client_id: 'demo-app', client_secret: 'demo-secret', username: 'alice', password: 'alice-password' };
  const ok = await fetch(h.oidcUrl('demo', 'token'), { method: 'POST', headers: { origin, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  t.is(ok.status, 200);
  t.is(ok.headers.get('access-control-allow-origin'), origin);
  const evil = await fetch(h.oidcUrl('demo', 'token'), { method: 'POST', headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  t.is(evil.status, 200);
  t.is(evil.headers.get('access-control-allow-origin'), null);
  const certs = await fetch(h.oidcUrl('demo', 'certs'), { headers: { origin: 'https://evil.example' } });
  t.is(certs.headers.get('access-control-allow-origin'), 'https://evil.example');
});
