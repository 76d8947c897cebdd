// Login through the realm's security-admin-console client: authorization
// code + PKCE (S256). Tokens stay in this module's memory only (never in
// storage). A browser that holds an SSO session signs in without leaving the
// page: the authorization request goes out as a same-origin fetch with
// prompt=none, and the code comes back in the URL of the redirect it follows
// to the console (silentLogin: one page load instead of two, the verifier
// never leaves memory). Without an SSO session the page goes to the login
// page (login); the PKCE verifier and state then live in sessionStorage just
// across the redirect there and back, and are removed on return. The access
// token is refreshed before it expires; logout goes through the realm's
// end-session endpoint.

const CLIENT_ID = document.querySelector('meta[name="sessiond-client"]').content;
export const LOGIN_REALM = document.querySelector('meta[name="sessiond-realm"]').content;
const OIDC = `/realms/${encodeURIComponent(LOGIN_REALM)}/protocol/openid-connect`;
const PENDING_KEY = 'sessiond-console-pkce';
/** Refresh when this share of the access token's lifetime has passed. */
const REFRESH_AT_SHARE = 0.7;

let tokens = null;
let refreshTimer = null;
const listeners = new Set();

function consoleUrl() {
  return `${location.origin}/admin/${encodeURIComponent(LOGIN_REALM)}/console/`;
}

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function randomText(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function challengeOf(verifier) {
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

export function accessToken() {
  return tokens?.access_token ?? null;
}

export function onTokens(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function keep(next) {
  tokens = { ...tokens, ...next };
  clearTimeout(refreshTimer);
  const lifetimeMs = Math.max(5, Number(next.expires_in) || 60) * 1000;
  refreshTimer = setTimeout(() => void refresh(), lifetimeMs * REFRESH_AT_SHARE);
  for (const l of listeners) l(tokens);
}

async function tokenRequest(form) {
  const res = await fetch(`${OIDC}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...form }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${res.status}`);
  return body;
}

async function refresh() {
  if (tokens?.refresh_token === undefined) return;
  try {
    keep(await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }));
  } catch {
    // The session ended (logged out elsewhere, expired): start over.
    tokens = null;
    for (const l of listeners) l(null);
  }
}

/** The authorization request's parameters, with a fresh verifier and state. */
async function authorizationRequest(extra = {}) {
  const verifier = randomText(48);
  const state = randomText(16);
  const params = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: consoleUrl(),
    response_type: 'code',
    scope: 'openid',
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { verifier, state, url: `${OIDC}/auth?${params}` };
}

/** Sends the browser to the login page. */
export async function login() {
  const { verifier, state, url } = await authorizationRequest();
  // The page's #fragment (the realm shown) comes back with the login.
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  location.assign(url);
}

/**
 * Signs in through the browser's SSO session without leaving the page: the
 * authorization request (prompt=none) as a same-origin fetch, which sends the
 * realm's SSO cookies and follows the redirect to the console; the code is in
 * that redirect's URL. False when there is no SSO session (login_required) or
 * anything else comes back: the caller then goes to the login page, which
 * shows what is wrong.
 */
export async function silentLogin() {
  const { verifier, state, url } = await authorizationRequest({ prompt: 'none' });
  let back;
  try {
    const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
    back = new URL(res.url);
    void res.body?.cancel();
  } catch {
    return false;
  }
  const code = back.searchParams.get('code');
  if (back.origin + back.pathname !== consoleUrl() || back.searchParams.get('state') !== state || code === null) return false;
  keep(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: consoleUrl(), code_verifier: verifier }));
  return true;
}

/** On return from the login page: trades the code for tokens. False when there is nothing to finish. */
export async function finishLogin() {
  const query = new URLSearchParams(location.search);
  const code = query.get('code');
  // A page that is no return from the login page leaves the storage alone (its first use costs the page milliseconds).
  if (code === null && query.get('error') === null) return false;
  const pending = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (code === null) throw new Error(query.get('error_description') || query.get('error'));
  const { verifier, state, hash } = pending === null ? {} : JSON.parse(pending);
  history.replaceState(null, '', consoleUrl() + (typeof hash === 'string' ? hash : ''));
  if (verifier === undefined || query.get('state') !== state) throw new Error('The login answer does not match the login that was started; sign in again.');
  keep(await tokenRequest({ grant_type: 'authorization_code', code, redirect_uri: consoleUrl(), code_verifier: verifier }));
  return true;
}

export function logout() {
  const params = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: consoleUrl() });
  if (tokens?.id_token !== undefined) params.set('id_token_hint', tokens.id_token);
  tokens = null;
  clearTimeout(refreshTimer);
  location.assign(`${OIDC}/logout?${params}`);
}
