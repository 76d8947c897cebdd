// Redirect URI verification, after Keycloak's RedirectUtils.verifyRedirectUri
// (26.x):
//
//   1. the path part (before `?`/`#`) is percent-decoded until it stops
//      changing (at most 5 rounds; more is refused), so `%2F..%2F` cannot
//      smuggle a path past a prefix rule; the URI is then normalized (dot
//      segments resolved, host lower-cased);
//   2. it matches a registered URI when equal to it, or, for a registered URI
//      ending in `*` (and holding no `?`), when the URI without its query
//      starts with the registered one minus the `*`, or equals it minus a
//      trailing `/*` (so `https://app/cb/*` admits `https://app/cb`);
//   3. for `http://localhost:<port>` and `http://127.0.0.1:<port>` the port is
//      also dropped and the match retried (RFC 8252 loopback redirects);
//   4. registered URIs starting with `/` are relative to the client's rootUrl,
//      or to the server's own origin.
//
// Two deliberate differences: a port written as `:*` in a registered URI
// (`http://127.0.0.1:*/*`, which the demo realm uses) matches any port of
// that scheme and host — Keycloak has no port wildcard and relies on rule 3 —
// and a URI with user-info (`http://127.0.0.1:80@evil.example/`) is refused
// outright, because rule 3's string surgery would otherwise read it as a
// loopback URI.

import type { ClientRecord } from '../../../realm/model.js';
import { CLIENT_ATTRIBUTE } from '../../../session/client-settings.js';

const DECODE_ROUNDS_MAX = 5;
const LOOPBACK_PREFIXES = ['http://localhost', 'http://127.0.0.1'] as const;
/** Schemes that run code or read local files in a browser: never a redirect target. */
const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

/** Percent-decodes the part before the query/fragment until stable; null when it never settles or is malformed. */
function decodePath(raw: string): string | null {
  const cut = raw.search(/[?#]/);
  let base = cut < 0 ? raw : raw.slice(0, cut);
  const rest = cut < 0 ? '' : raw.slice(cut);
  for (let round = 0; round < DECODE_ROUNDS_MAX; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(base);
    } catch {
      return null;
    }
    if (decoded === base) return base + rest;
    base = decoded;
  }
  return null;
}

/** The redirect URI as it will be used (decoded, normalized, absolute), or null when it is not a usable URI. */
export function normalizeRedirectUri(raw: string, baseOrigin: string): string | null {
  if (raw === '' || /[\u0000-\u001f\u007f\s\\]/.test(raw)) return null;
  const decoded = decodePath(raw);
  if (decoded === null) return null;
  let url: URL;
  try {
    url = decoded.startsWith('/') ? new URL(decoded, baseOrigin) : new URL(decoded);
  } catch {
    return null;
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return null;
  if (url.username !== '' || url.password !== '') return null;
  return url.href;
}

function matchesOne(valid: string, redirect: string): boolean {
  if (valid.endsWith('*') && !valid.includes('?')) {
    // Keycloak ignores the query when a wildcard is in effect.
    const q = redirect.indexOf('?');
    const r = q < 0 ? redirect : redirect.slice(0, q);
    let prefix = valid.slice(0, -1);
    if (r.startsWith(prefix)) return true;
    if (prefix.length > 1 && prefix.endsWith('/')) prefix = prefix.slice(0, -1);
    return prefix === r;
  }
  return valid === redirect;
}

/** `scheme://host:*` at the start of a registered URI: the port wildcard (a sessiond extension). */
const PORT_WILDCARD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]+):\*(?=[/?#]|$)/i;

function matchesAny(valid: readonly string[], redirect: string): boolean {
  for (const v of valid) {
    if (matchesOne(v, redirect)) return true;
    const wildcard = PORT_WILDCARD.exec(v);
    if (wildcard === null) continue;
    // `redirect` is a normalized href without user-info, so it starts with its origin.
    const url = new URL(redirect);
    if (url.origin === 'null' || !redirect.startsWith(url.origin)) continue;
    const withoutPort = `${url.protocol}//${url.hostname}${redirect.slice(url.origin.length)}`;
    if (matchesOne(wildcard[1]!.toLowerCase() + v.slice(wildcard[0].length), withoutPort)) return true;
  }
  return false;
}

/** Registered URIs with relative ones made absolute (client rootUrl, else this server's origin). */
function resolveValid(valid: readonly string[], rootUrl: string | null, baseOrigin: string): string[] {
  const root = rootUrl !== null && rootUrl !== '' && !rootUrl.includes('${') ? rootUrl.replace(/\/+$/, '') : baseOrigin;
  return valid.filter((v) => v !== '').map((v) => (v.startsWith('/') ? root + v : v));
}

/**
 * Verifies `raw` against registered URIs. Returns the URI to redirect to, or
 * null when it is missing, malformed or not registered.
 */
export function verifyRedirectUri(raw: string | undefined, registered: readonly string[], rootUrl: string | null, baseOrigin: string): string | null {
  if (raw === undefined) return null;
  const valid = resolveValid(registered, rootUrl, baseOrigin);
  if (valid.length === 0) return null;
  const redirect = normalizeRedirectUri(raw, baseOrigin);
  if (redirect === null) return null;
  if (matchesAny(valid, redirect)) return redirect;
  for (const prefix of LOOPBACK_PREFIXES) {
    if (!redirect.startsWith(prefix) || redirect[prefix.length] !== ':') continue;
    const slash = redirect.indexOf('/', prefix.length);
    const portless = prefix + (slash < 0 ? '' : redirect.slice(slash));
    if (matchesAny(valid, portless)) return redirect;
  }
  return null;
}

/**
 * The client's post-logout redirect URIs: attribute `post.logout.redirect.uris`,
 * `##`-separated, where `+` stands for the client's redirect URIs.
 */
export function postLogoutRedirectUris(client: ClientRecord): string[] {
  const attribute = client.attributes[CLIENT_ATTRIBUTE.postLogoutRedirectUris];
  if (attribute === undefined) return [];
  const out: string[] = [];
  for (const entry of attribute.split('##')) {
    const uri = entry.trim();
    if (uri === '') continue;
    if (uri === '+') out.push(...client.redirectUris);
    else out.push(uri);
  }
  return out;
}

/** The CSP `form-action` source admitting `uri` (its origin, or its scheme for custom schemes). */
export function formActionSource(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : null;
}
