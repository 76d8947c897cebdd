#!/usr/bin/env node
// A small relying party for trying sessiond's browser login: it sends the
// browser to the authorization endpoint (code flow, PKCE S256, state and
// nonce), takes the code back on /cb, exchanges it for tokens, checks the ID
// token (signature against the realm's JWKS, issuer, audience, nonce), calls
// userinfo, and prints the tokens on stdout. Its page then offers
// RP-initiated logout. Node's standard library only: no build, no install.
//
//   node examples/demo-rp.mjs                     # demo-app against http://127.0.0.1:8080/realms/demo
//   node examples/demo-rp.mjs --client-id demo-spa --client-secret ''   # a public client
//
// Options (each also an environment variable, DEMO_RP_ISSUER and so on):
//   --issuer URL          the realm's issuer (default http://127.0.0.1:8080/realms/demo)
//   --client-id ID        default demo-app
//   --client-secret S     default demo-secret; empty for a public client
//   --port N              default 3000 (0: any free port)
//   --host ADDR           default 127.0.0.1
//
// It prints "demo relying party listening on <url>" when ready, and after each
// sign-in "signed in as <username>" followed by one JSON document:
// {token_response, id_token_claims, userinfo}.

import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    issuer: { type: 'string', default: process.env.DEMO_RP_ISSUER ?? 'http://127.0.0.1:8080/realms/demo' },
    'client-id': { type: 'string', default: process.env.DEMO_RP_CLIENT_ID ?? 'demo-app' },
    'client-secret': { type: 'string', default: process.env.DEMO_RP_CLIENT_SECRET ?? 'demo-secret' },
    port: { type: 'string', default: process.env.DEMO_RP_PORT ?? '3000' },
    host: { type: 'string', default: process.env.DEMO_RP_HOST ?? '127.0.0.1' },
  },
});

const issuer = args.issuer.replace(/\/+$/, '');
const clientId = args['client-id'];
const clientSecret = args['client-secret'] === '' ? null : args['client-secret'];
/** Sign-ins started and not finished, by state; an abandoned one is dropped after this long. */
const PENDING_TTL_MS = 10 * 60 * 1000;
const pending = new Map();
let base = '';

async function discover() {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`discovery at ${issuer} answered ${res.status}: is sessiond running, and is the realm right?`);
  return res.json();
}

/** Verifies a compact JWS with the realm's published keys (RS256/ES256/PS256/EdDSA and friends). */
async function verifyJwt(token, jwksUri) {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  const { keys } = await (await fetch(jwksUri)).json();
  const jwk = keys.find((k) => k.kid === header.kid);
  if (jwk === undefined) throw new Error(`no key ${header.kid} in ${jwksUri}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const hash = { 256: 'sha256', 384: 'sha384', 512: 'sha512' }[header.alg.slice(2)] ?? null;
  const options = header.alg.startsWith('ES')
    ? { key, dsaEncoding: 'ieee-p1363' }
    : header.alg.startsWith('PS')
      ? { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: Number(header.alg.slice(2)) / 8 }
      : { key };
  const ok = verify(header.alg === 'EdDSA' ? null : hash, Buffer.from(`${h}.${p}`), options, Buffer.from(s, 'base64url'));
  if (!ok) throw new Error('ID token signature does not verify');
  return JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
}

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`);
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function login(res, config) {
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  pending.set(state, { nonce, verifier, at: Date.now() });
  for (const [key, value] of pending) if (Date.now() - value.at > PENDING_TTL_MS) pending.delete(key);
  const url = new URL(config.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${base}/cb`,
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  res.writeHead(302, { location: url.href }).end();
}

async function callback(res, query, config) {
  if (query.get('error') !== null) return page(res, 400, 'Sign-in failed', `<p>${escape(query.get('error'))}: ${escape(query.get('error_description') ?? '')}</p>`);
  const started = pending.get(query.get('state') ?? '');
  if (started === undefined) return page(res, 400, 'Sign-in failed', '<p>Unknown or used state: <a href="/login">start again</a>.</p>');
  pending.delete(query.get('state'));
  if (query.get('iss') !== null && query.get('iss') !== config.issuer) return page(res, 400, 'Sign-in failed', '<p>The response came from another issuer.</p>');
  const form = new URLSearchParams({ grant_type: 'authorization_code', code: query.get('code') ?? '', redirect_uri: `${base}/cb`, code_verifier: started.verifier, client_id: clientId });
  if (clientSecret !== null) form.set('client_secret', clientSecret);
  const tokenRes = await fetch(config.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
  const tokens = await tokenRes.json();
  if (!tokenRes.ok) return page(res, 502, 'Code exchange failed', `<pre>${escape(JSON.stringify(tokens, null, 2))}</pre>`);
  const idClaims = await verifyJwt(tokens.id_token, config.jwks_uri);
  const problem =
    idClaims.iss !== config.issuer ? 'issuer' : idClaims.aud !== clientId && !(Array.isArray(idClaims.aud) && idClaims.aud.includes(clientId)) ? 'audience' : idClaims.nonce !== started.nonce ? 'nonce' : idClaims.exp * 1000 < Date.now() ? 'expiry' : null;
  if (problem !== null) return page(res, 502, 'Invalid ID token', `<p>The ID token's ${problem} is wrong.</p>`);
  const userinfo = await (await fetch(config.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
  const username = userinfo.preferred_username ?? idClaims.preferred_username ?? idClaims.sub;
  process.stdout.write(`signed in as ${username}\n${JSON.stringify({ token_response: tokens, id_token_claims: idClaims, userinfo }, null, 2)}\n`);
  const logout = new URL(config.end_session_endpoint);
  logout.search = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: `${base}/` }).toString();
  page(
    res,
    200,
    `Signed in as ${escape(username)}`,
    `<p>Session <code>${escape(idClaims.sid)}</code>; the tokens are printed in the terminal that runs this script.</p>` +
      `<h2>ID token claims</h2><pre>${escape(JSON.stringify(idClaims, null, 2))}</pre>` +
      `<h2>userinfo</h2><pre>${escape(JSON.stringify(userinfo, null, 2))}</pre>` +
      `<p><a href="${escape(logout.href)}">Log out</a> · <a href="/login">Sign in again</a> (single sign-on: no form)</p>`,
  );
}

async function main() {
  const config = await discover();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const route = url.pathname === '/login' ? login(res, config) : url.pathname === '/cb' ? callback(res, url.searchParams, config) : Promise.resolve(page(res, 200, 'Demo relying party', `<p>Client <code>${escape(clientId)}</code> of <code>${escape(issuer)}</code>.</p><p><a href="/login">Sign in</a></p>`));
    route.catch((err) => {
      process.stderr.write(`demo-rp: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!res.headersSent) page(res, 500, 'Error', `<p>${escape(err instanceof Error ? err.message : String(err))}</p>`);
    });
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(Number(args.port), args.host, resolve));
  const { port } = server.address();
  base = `http://${args.host.includes(':') ? `[${args.host}]` : args.host}:${port}`;
  process.stdout.write(`demo relying party listening on ${base}/ (client ${clientId}, issuer ${issuer})\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`demo-rp: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
