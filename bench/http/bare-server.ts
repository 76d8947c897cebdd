// The baseline of the http-* scenarios: a bare Fastify server, run as its own
// process (`node dist/bench/http/bare-server.js CONFIG.json`), that does what
// sessiond's token and introspection endpoints do minus the session state:
//
// - the same form parsing (@fastify/formbody, same body limit), the same
//   client_secret_basic check (sha256 of both secrets + timingSafeEqual),
// - refresh_token: verifies the presented refresh token (HS512, stateless),
//   then signs an access token, an HS512 refresh token and an ID token with
//   the same claims (templates taken from a real response of the server under
//   test), with the same algorithm and the same code (src/tokens/jwt.ts:
//   ES256/EdDSA inline, RS256 on libuv's pool as sessiond does), and answers
//   the same JSON body with the same headers;
// - client_credentials: one access token from its template;
// - introspection: verifies the access token's signature and expiry and
//   echoes its claims, as sessiond's body does.
//
// What it does not do is exactly what the scenario measures: no realm,
// client or user lookup, no session lookup or touch, no shard round trip, no
// events or metrics. It mints its own token pools at start (it cannot verify
// the tested server's tokens) and writes them to `tokensFile`, then prints
// `BARE-READY {"port":N}`.

import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { generateKey, type KeyRecord } from '../../src/realm/keys.js';
import type { SignatureAlgorithm } from '../../src/realm/model.js';
import { JwtSigner, VerifyKey, verifyJwt, type JwtPayload } from '../../src/tokens/jwt.js';

/** sessiond's OIDC_BODY_LIMIT_BYTES. */
const BODY_LIMIT = 64 * 1024;

export interface BareRealmConfig {
  algorithm: SignatureAlgorithm;
  /** A refresh_token grant response of the tested server: key order and static fields of the body. */
  refreshBody: Record<string, unknown> | null;
  access: JwtPayload | null;
  id: JwtPayload | null;
  refresh: JwtPayload | null;
  /** A client_credentials response and its access token's claims. */
  ccBody: Record<string, unknown> | null;
  ccAccess: JwtPayload | null;
}

export interface BareConfig {
  client: string;
  secret: string;
  /** Refresh and access tokens minted per realm at start. */
  pool: number;
  tokensFile: string;
  realms: Record<string, BareRealmConfig>;
}

export type BareTokens = Record<string, { refresh: string[]; access: string[] }>;

interface RealmRuntime {
  config: BareRealmConfig;
  signer: JwtSigner;
  hmac: JwtSigner;
  verifiers: Map<string, VerifyKey>;
}

type Form = Record<string, string | string[] | undefined>;

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function one(body: Form, name: string): string | undefined {
  const v = body[name];
  return Array.isArray(v) ? v[0] : v;
}

/** request-context.ts secretEquals: both hashed, so the comparison is constant-time whatever the lengths. */
function secretEquals(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b) && expected.length === given.length;
}

/** client_secret_basic as request-context.ts authenticateClient parses it. */
function clientOk(header: string | undefined, client: string, secret: string): boolean {
  if (typeof header !== 'string' || !/^basic /i.test(header)) return false;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  let id: string;
  let given: string;
  try {
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    given = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
  } catch {
    return false;
  }
  return id === client && secretEquals(secret, given);
}

const lifetime = (t: JwtPayload): number => (typeof t['exp'] === 'number' && typeof t['iat'] === 'number' ? t['exp'] - t['iat'] : 300);

/** The template's jti with a fresh UUID (keeps Keycloak 26.2+'s `onrtrt:` style prefix). */
function freshJti(template: unknown): string {
  const text = typeof template === 'string' ? template : '';
  const colon = text.indexOf(':');
  return colon >= 0 ? `${text.slice(0, colon + 1)}${randomUUID()}` : randomUUID();
}

function atHash(accessToken: string, algorithm: string): string {
  const digest = createHash(algorithm === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function sign(signer: JwtSigner, payload: JwtPayload): string | Promise<string> {
  // As token-service.ts: RSA on the thread pool, the cheap algorithms inline.
  return signer.algorithm === 'RS256' ? signer.signAsync(payload) : signer.sign(payload);
}

async function refreshGrant(rt: RealmRuntime, presented: JwtPayload): Promise<Record<string, unknown>> {
  const c = rt.config;
  const now = nowSeconds();
  const sid = presented['sid'];
  const sub = presented['sub'];
  const access: JwtPayload = { ...c.access };
  access['exp'] = now + lifetime(c.access!);
  access['iat'] = now;
  access['jti'] = freshJti(c.access!['jti']);
  access['sub'] = sub;
  if ('sid' in access) access['sid'] = sid;
  const accessToken = await sign(rt.signer, access);

  const refresh: JwtPayload = { ...c.refresh };
  if ('exp' in refresh) refresh['exp'] = now + lifetime(c.refresh!);
  refresh['iat'] = now;
  refresh['jti'] = randomUUID();
  refresh['sub'] = sub;
  refresh['sid'] = sid;
  const refreshToken = rt.hmac.sign(refresh);

  let idToken: string | null = null;
  if (c.id !== null) {
    const id: JwtPayload = { ...c.id };
    id['exp'] = access['exp'];
    id['iat'] = now;
    id['jti'] = randomUUID();
    id['sub'] = sub;
    if ('sid' in id) id['sid'] = sid;
    id['at_hash'] = atHash(accessToken, rt.signer.algorithm);
    idToken = await sign(rt.signer, id);
  }
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(c.refreshBody ?? {})) {
    if (key === 'access_token') body[key] = accessToken;
    else if (key === 'refresh_token') body[key] = refreshToken;
    else if (key === 'id_token') body[key] = idToken;
    else if (key === 'session_state') body[key] = sid;
    else body[key] = value;
  }
  return body;
}

async function clientCredentialsGrant(rt: RealmRuntime): Promise<Record<string, unknown>> {
  const c = rt.config;
  const now = nowSeconds();
  const access: JwtPayload = { ...c.ccAccess };
  access['exp'] = now + lifetime(c.ccAccess!);
  access['iat'] = now;
  access['jti'] = freshJti(c.ccAccess!['jti']);
  const accessToken = await sign(rt.signer, access);
  const body: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(c.ccBody ?? {})) body[key] = key === 'access_token' ? accessToken : value;
  return body;
}

function oauthError(status: number, error: string, description: string): { status: number; body: object } {
  return { status, body: { error, error_description: description } };
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (configPath === undefined) throw new Error('usage: bare-server.js CONFIG.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as BareConfig;

  const realms = new Map<string, RealmRuntime>();
  const tokens: BareTokens = {};
  for (const [name, rc] of Object.entries(config.realms)) {
    const keys: KeyRecord[] = [await generateKey(name, rc.algorithm), await generateKey(name, 'HS512')];
    const rt: RealmRuntime = {
      config: rc,
      signer: new JwtSigner(keys[0]!),
      hmac: new JwtSigner(keys[1]!),
      verifiers: new Map(keys.map((k) => [k.kid, new VerifyKey(k)])),
    };
    realms.set(name, rt);
    const pool = { refresh: [] as string[], access: [] as string[] };
    const now = nowSeconds();
    for (let i = 0; i < config.pool; i++) {
      const sid = randomUUID();
      const sub = randomUUID();
      if (rc.refresh !== null) pool.refresh.push(rt.hmac.sign({ ...rc.refresh, exp: now + 86_400, iat: now, jti: randomUUID(), sub, sid }));
      if (rc.access !== null) pool.access.push(rt.signer.sign({ ...rc.access, exp: now + 86_400, iat: now, jti: freshJti(rc.access['jti']), sub, sid }));
    }
    tokens[name] = pool;
  }
  writeFileSync(config.tokensFile, JSON.stringify(tokens));

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });
  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  const realmOf = (params: unknown): RealmRuntime | undefined => realms.get((params as { realm?: string }).realm ?? '');

  app.post('/realms/:realm/protocol/openid-connect/token', async (request, reply) => {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    const rt = realmOf(request.params);
    const body = (request.body ?? {}) as Form;
    let failure: { status: number; body: object };
    if (rt === undefined) failure = oauthError(404, 'invalid_request', 'Realm does not exist');
    else if (!clientOk(request.headers.authorization, config.client, config.secret)) failure = oauthError(401, 'unauthorized_client', 'Invalid client or Invalid client credentials');
    else {
      const grant = one(body, 'grant_type');
      if (grant === 'refresh_token' && rt.config.access !== null) {
        const verified = verifyJwt(one(body, 'refresh_token') ?? '', (kid) => (kid === undefined ? undefined : rt.verifiers.get(kid)));
        const typ = verified.ok ? verified.payload['typ'] : undefined;
        if (verified.ok && (typ === 'Refresh' || typ === 'Offline') && verified.payload['azp'] === config.client) {
          return refreshGrant(rt, verified.payload);
        }
        failure = oauthError(400, 'invalid_grant', 'Invalid refresh token');
      } else if (grant === 'client_credentials' && rt.config.ccAccess !== null) {
        return clientCredentialsGrant(rt);
      } else failure = oauthError(400, 'unsupported_grant_type', 'Unsupported grant_type');
    }
    return reply.code(failure.status).send(failure.body);
  });

  app.post('/realms/:realm/protocol/openid-connect/token/introspect', async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const rt = realmOf(request.params);
    if (rt === undefined) return reply.code(404).send({ error: 'invalid_request', error_description: 'Realm does not exist' });
    if (!clientOk(request.headers.authorization, config.client, config.secret)) return reply.code(401).send({ error: 'unauthorized_client' });
    const verified = verifyJwt(one((request.body ?? {}) as Form, 'token') ?? '', (kid) => (kid === undefined ? undefined : rt.verifiers.get(kid)));
    if (!verified.ok) return { active: false };
    const p = verified.payload;
    if (p['typ'] !== 'Bearer' || typeof p['exp'] !== 'number' || p['exp'] <= nowSeconds()) return { active: false };
    return { ...p, client_id: p['azp'], username: p['preferred_username'], token_type: 'Bearer', active: true };
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`BARE-READY ${JSON.stringify({ port })}\n`);

  const stop = (): void => {
    // exit() after close so that --cpu-prof writes its profile.
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`bare-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
