// Shared steps of the browser-flow suites: start an authorization request,
// submit the login form, exchange the code — each a plain HTTP exchange
// through TestBrowser, so the tests read as the flow a user goes through.

import { randomBytes } from 'node:crypto';
import { authorizationUrl, parseForm, pkcePair, type PageResult, type Pkce, type TestBrowser } from '../../../helpers/browser-client.js';
import type { HttpResult, TestNode } from '../../../helpers/node-harness.js';

/** A relying party's callback; the tests never follow the redirect, they read it. */
export const CALLBACK = 'http://127.0.0.1:5000/callback';

export interface AuthStart {
  page: PageResult;
  state: string;
  nonce: string;
  pkce: Pkce | null;
}

export async function startAuth(h: TestNode, browser: TestBrowser, clientId: string, params: Record<string, string> = {}, options: { pkce?: boolean; realm?: string } = {}): Promise<AuthStart> {
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const pkce = options.pkce === true ? pkcePair() : null;
  const url = authorizationUrl(h.realmUrl(options.realm ?? 'demo'), {
    client_id: clientId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: 'openid',
    state,
    nonce,
    ...(pkce !== null ? { code_challenge: pkce.challenge, code_challenge_method: 'S256' } : {}),
    ...params,
  });
  return { page: await browser.get(url), state, nonce, pkce };
}

/** Fills and posts the login form of `page` (its hidden fields included). */
export async function submitLogin(browser: TestBrowser, page: PageResult, username: string, password: string, extra: Record<string, string> = {}): Promise<PageResult> {
  const form = parseForm(page.text);
  return browser.post(form.action, { ...form.fields, username, password, ...extra });
}

export interface CodeResult {
  code: string;
  sessionState: string | null;
  location: URL;
}

/** Reads the code out of a successful redirect to CALLBACK; throws with the page otherwise. */
export function codeOf(res: PageResult): CodeResult {
  const location = res.location;
  const code = location?.searchParams.get('code');
  if (res.status !== 302 || location === null || code === null || code === undefined) {
    throw new Error(`expected a redirect with a code, got ${res.status} ${location?.href ?? ''} ${res.text.slice(0, 400)}`);
  }
  return { code, sessionState: location.searchParams.get('session_state'), location };
}

/** A full form login for `clientId`: the code and the session id. */
export async function formLogin(h: TestNode, browser: TestBrowser, clientId: string, options: { username?: string; password?: string; extra?: Record<string, string>; params?: Record<string, string>; pkce?: boolean } = {}): Promise<CodeResult & { start: AuthStart }> {
  const start = await startAuth(h, browser, clientId, options.params, { pkce: options.pkce === true });
  if (start.page.status !== 200) throw new Error(`expected the login form, got ${start.page.status} ${start.page.location?.href ?? ''}`);
  const res = await submitLogin(browser, start.page, options.username ?? 'alice', options.password ?? 'alice-password', options.extra);
  return { ...codeOf(res), start };
}

export function exchangeCode(h: TestNode, client: [string, string | null], code: string, verifier: string | null = null, realm = 'demo'): Promise<HttpResult> {
  const form: Record<string, string> = { grant_type: 'authorization_code', client_id: client[0], code, redirect_uri: CALLBACK };
  if (client[1] !== null) form['client_secret'] = client[1];
  if (verifier !== null) form['code_verifier'] = verifier;
  return h.token(realm, form);
}
