// Redirect URI matching against Keycloak's RedirectUtils rules (exact, `*`
// suffix, query ignored under a wildcard, trailing `/*` admitting the bare
// path, loopback port stripping, relative URIs), sessiond's `:*` port
// wildcard, and the refusals that keep it from being an open redirector
// (encoded traversal, user-info, script schemes).

import test from 'ava';
import { clientDefaults } from '../../../../src/realm/defaults.js';
import { formActionSource, normalizeRedirectUri, postLogoutRedirectUris, verifyRedirectUri } from '../../../../src/http/oidc/browser/redirect-uri.js';

const BASE = 'https://sso.example.test';
const verify = (raw: string | undefined, registered: string[], rootUrl: string | null = null): string | null => verifyRedirectUri(raw, registered, rootUrl, BASE);

test('exact matches, including the query', (t) => {
  t.is(verify('https://app.example/cb', ['https://app.example/cb']), 'https://app.example/cb');
  t.is(verify('https://app.example/cb?x=1', ['https://app.example/cb?x=1']), 'https://app.example/cb?x=1');
  t.is(verify('https://app.example/cb?x=2', ['https://app.example/cb?x=1']), null);
  t.is(verify('https://app.example/cb2', ['https://app.example/cb']), null);
  t.is(verify('https://APP.example/cb', ['https://app.example/cb']), 'https://app.example/cb', 'the host is compared lower-cased');
  t.is(verify(undefined, ['https://app.example/cb']), null);
  t.is(verify('https://app.example/cb', []), null);
});

test('a `*` suffix is a prefix rule that ignores the query, and `/*` admits the bare path', (t) => {
  t.is(verify('https://app.example/cb/deep?x=1', ['https://app.example/cb/*']), 'https://app.example/cb/deep?x=1');
  t.is(verify('https://app.example/cb', ['https://app.example/cb/*']), 'https://app.example/cb');
  t.is(verify('https://app.example/cbx', ['https://app.example/cb/*']), null);
  t.is(verify('https://app.example.evil/cb', ['https://app.example/*']), null);
  t.is(verify('https://app.example/other', ['https://app.example/cb*']), null);
});

test('decoded and normalized before matching: encoded traversal cannot escape a prefix', (t) => {
  t.is(verify('https://app.example/cb/%2E%2E/admin', ['https://app.example/cb/*']), null);
  t.is(verify('https://app.example/cb/%252E%252E/admin', ['https://app.example/cb/*']), null);
  t.is(verify('https://app.example/cb/../admin', ['https://app.example/cb/*']), null);
  t.is(normalizeRedirectUri('https://app.example/a/./b/../c', BASE), 'https://app.example/a/c');
  t.is(normalizeRedirectUri('https://app.example/%25252525252E', BASE), null, 'never settles within five rounds');
});

test('user-info, script schemes and control characters are refused', (t) => {
  t.is(verify('http://127.0.0.1:80@evil.example/', ['http://127.0.0.1/*']), null);
  t.is(verify('https://user@app.example/cb', ['https://app.example/*']), null);
  t.is(verify('javascript:alert(1)', ['javascript:*']), null);
  t.is(verify('data:text/html,x', ['data:*']), null);
  t.is(verify('https://app.example/cb\n', ['https://app.example/*']), null);
  t.is(verify('https://app.example\\@evil.example/', ['https://app.example/*']), null);
});

test('loopback redirects match without their port (RFC 8252), as Keycloak', (t) => {
  t.is(verify('http://127.0.0.1:49152/cb', ['http://127.0.0.1/cb']), 'http://127.0.0.1:49152/cb');
  t.is(verify('http://localhost:8000/x', ['http://localhost/*']), 'http://localhost:8000/x');
  t.is(verify('http://127.0.0.1.evil.example/cb', ['http://127.0.0.1/*']), null);
  t.is(verify('https://localhost:8000/x', ['https://localhost/*']), null, 'only the http loopback form');
});

test('sessiond extension: `:*` in a registered URI matches any port of that scheme and host', (t) => {
  t.is(verify('http://127.0.0.1:5000/callback', ['http://127.0.0.1:*/*']), 'http://127.0.0.1:5000/callback');
  t.is(verify('https://app.example:8443/cb', ['https://app.example:*/cb']), 'https://app.example:8443/cb');
  t.is(verify('https://app.example/cb', ['https://app.example:*/cb']), 'https://app.example/cb');
  t.is(verify('https://app.example:8443/other', ['https://app.example:*/cb']), null);
  t.is(verify('http://app.example:8443/cb', ['https://app.example:*/cb']), null, 'the scheme still matters');
  t.is(verify('https://evil.example:8443/cb', ['https://app.example:*/cb']), null);
});

test('relative registered URIs resolve against the client rootUrl, else the server', (t) => {
  t.is(verify('https://app.example/cb', ['/cb'], 'https://app.example'), 'https://app.example/cb');
  t.is(verify(`${BASE}/cb`, ['/cb']), `${BASE}/cb`);
  t.is(verify('/cb', ['/cb']), `${BASE}/cb`, 'a relative redirect_uri resolves against the server too');
});

test('post-logout redirect URIs: `##`-separated, `+` = the redirect URIs', (t) => {
  const client = { ...clientDefaults('r', 'c'), redirectUris: ['https://app.example/*'] };
  t.deepEqual(postLogoutRedirectUris({ ...client, attributes: { 'post.logout.redirect.uris': '+' } }), ['https://app.example/*']);
  t.deepEqual(postLogoutRedirectUris({ ...client, attributes: { 'post.logout.redirect.uris': 'https://a.example/bye##+' } }), ['https://a.example/bye', 'https://app.example/*']);
  t.deepEqual(postLogoutRedirectUris(client), [], 'no attribute: nothing is allowed');
});

test('form-action sources: origins, or the scheme of a custom-scheme URI', (t) => {
  t.is(formActionSource('https://app.example:8443/cb?x'), 'https://app.example:8443');
  t.is(formActionSource('com.example.app:/oauth2redirect'), 'com.example.app:');
  t.is(formActionSource('not a url'), null);
});
