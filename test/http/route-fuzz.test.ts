// Goal: no request, however wrong, breaks the node. Requests are generated
// from the route table (the OpenAPI document the public server builds from
// every route's schema: methods, paths, path parameters): real and garbage
// path parameters, absurd paging, form / JSON / raw bodies with known and
// unknown fields, and valid, forged, expired and foreign bearer tokens. Every
// answer must come within its deadline and be a 2xx/3xx or a 4xx with the
// error body of its API (OAuth `{error}` JSON or an HTML page on /realms,
// Keycloak's `{error}` / `{errorMessage}` JSON on /admin); never a 5xx.
// Afterwards the node still serves and the sessions created before the run
// (an online and an offline one, in a realm the generator never names) are
// intact and refresh.
// Method: fast-check over a real node on 127.0.0.1, one request at a time.
// Budget: FUZZ_RUNS requests (default 300, a few seconds); FC_SEED replays a
// run (the seed is printed).

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { parsePasswordPolicy } from '../../src/crypto/password-hasher.js';
import { claims, DEMO_APP, startNode, TEST_PASSWORD_POLICY, type TestNode } from '../helpers/node-harness.js';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2_147_483_647);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);
/** Longest a single answer may take on this shared 2-core machine (password grants hash). */
const DEADLINE_MS = 10_000;
const WITNESS_REALM = 'fuzz-witness-realm';
/** Stands for the current admin token in a generated request (a request may end the admin's session: then a new one). */
const ADMIN_BEARER = 'Bearer (admin)';

interface Operation {
  method: string;
  /** OpenAPI path, `{name}` parameters. */
  path: string;
  params: string[];
}

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  headers: Record<string, string>;
  body: string | null;
}

let h: TestNode;
let operations: Operation[] = [];
let witness: { sid: string; refresh: string; offlineSid: string; offlineRefresh: string };
/** Values the generator draws from: real ones (so that requests get past the first checks) and tokens. */
let known: { ids: string[]; tokens: string[] };
let adminToken = '';

test.before(async () => {
  h = await startNode({ argv: ['--login-rate-limit', '0'] });
  const doc = (await (await fetch(`${h.managementUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  for (const [path, ops] of Object.entries(doc.paths)) {
    const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of Object.keys(ops)) operations.push({ method: method.toUpperCase(), path, params });
  }
  operations = operations.sort((a, b) => `${a.method} ${a.path}`.localeCompare(`${b.method} ${b.path}`));

  // The witness: sessions in a realm the generator never names.
  const r = await h.createRealm({ name: WITNESS_REALM, clients: [{ clientId: 'w', secret: 'ws', directAccessGrantsEnabled: true, optionalClientScopes: ['offline_access'] }], users: [{ username: 'w', password: 'pw' }] });
  const online = await h.login(r.name, ['w', 'ws'], 'w', 'pw');
  const offline = await h.login(r.name, ['w', 'ws'], 'w', 'pw', 'openid offline_access');
  witness = { sid: online.session_state!, refresh: online.refresh_token!, offlineSid: offline.session_state!, offlineRefresh: offline.refresh_token! };

  // The master admin hashes cheaply here: a request that ends the admin's session means a new login.
  const masterRealm = h.realm('master');
  await h.updateRealm('master', { passwordPolicy: TEST_PASSWORD_POLICY });
  const adminUser = h.node.store.userByUsername(masterRealm.id, 'admin')!;
  await h.node.store.putUser({ ...adminUser, credentials: [await h.node.hasher.hash('admin', parsePasswordPolicy(TEST_PASSWORD_POLICY))] });
  const admin = await h.login('master', ['admin-cli', null], 'admin', 'admin');
  adminToken = admin.access_token;
  const user = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const demo = h.realm('demo');
  const master = h.realm('master');
  // A correctly signed admin token that expired a minute ago.
  const adminClaims = claims(admin.access_token);
  const signer = h.node.keys.signer(master.id, master.defaultSignatureAlgorithm)!;
  const expired = signer.sign({ ...adminClaims, iat: adminClaims['iat'] - 120, exp: adminClaims['iat'] - 60 });
  const forged = admin.access_token.slice(0, -4) + (admin.access_token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  known = {
    ids: [
      ...h.node.store.clients(demo.id).map((c) => c.id).slice(0, 4),
      h.node.store.userByUsername(demo.id, 'alice')!.id,
      user.session_state!,
      'demo-app',
      'offline_access',
    ],
    tokens: [admin.access_token, user.access_token, user.refresh_token!, expired, forged, 'not-a-token', `${'e'.repeat(30)}.${'f'.repeat(30)}.${'g'.repeat(30)}`],
  };
});
test.after.always(async () => {
  await h?.stop();
});

// ---------------------------------------------------------------------------
// Arbitraries

const garbage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '..', '%2F', '%00', '\u0000', '<script>', '${jndi:x}', "'; drop", '-1', '0', '1e309', 'NaN', 'null', '[]', '{}'),
  fc.string({ minLength: 300, maxLength: 1200 }),
);

const FORM_KEYS = [
  'grant_type', 'client_id', 'client_secret', 'username', 'password', 'scope', 'code', 'redirect_uri', 'code_verifier',
  'refresh_token', 'token', 'token_type_hint', 'id_token_hint', 'post_logout_redirect_uri', 'state', 'response_type',
  'nonce', 'prompt', 'max_age', 'login_hint', 'code_challenge', 'code_challenge_method', 'client_session_state',
  'client_session_host', 'access_token', 'rememberMe', 'session_code', 'x',
];
const JSON_KEYS = [
  'realm', 'enabled', 'username', 'email', 'clientId', 'id', 'name', 'value', 'temporary', 'type', 'credentials',
  'redirectUris', 'attributes', 'secret', 'publicClient', 'ids', 'userId', 'ipIn', 'ipNotIn', 'lastAccessFrom', 'lastAccessBefore',
  'ifResourceExists', 'users', 'clients', 'roles', 'failureFactor', 'bruteForceProtected', 'ssoSessionIdleTimeout',
  'eventsEnabled', 'notBefore', '__proto__', 'constructor',
];

function requestArb(): fc.Arbitrary<FuzzRequest> {
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('demo', 'master', 'password', 'authorization_code', 'refresh_token', 'client_credentials', 'demo-app', 'demo-secret', 'alice', 'alice-password', 'openid', 'openid offline_access', 'code', 'http://127.0.0.1:3000/callback') },
    { weight: 2, arbitrary: fc.constantFrom(...known.ids, ...known.tokens) },
    { weight: 3, arbitrary: garbage },
  );
  const jsonValue = fc.oneof(value, fc.integer(), fc.boolean(), fc.constant(null), fc.array(value, { maxLength: 3 }), fc.dictionary(fc.constantFrom(...JSON_KEYS), value, { maxKeys: 3 }));
  const body = fc.oneof(
    fc.constant({ contentType: null, text: null }),
    fc.dictionary(fc.constantFrom(...FORM_KEYS), value, { maxKeys: 6 }).map((f) => ({ contentType: 'application/x-www-form-urlencoded', text: new URLSearchParams(f).toString() })),
    fc.dictionary(fc.constantFrom(...JSON_KEYS), jsonValue, { maxKeys: 6 }).map((o) => ({ contentType: 'application/json', text: JSON.stringify(o) })),
    fc.jsonValue({ maxDepth: 3 }).map((v) => ({ contentType: 'application/json', text: JSON.stringify(v) ?? 'null' })),
    fc.tuple(fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/xml', 'multipart/form-data'), garbage).map(([contentType, text]) => ({ contentType, text })),
  );
  const paramValue = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('demo', 'master', ...known.ids) },
    { weight: 2, arbitrary: garbage.filter((s) => s !== '') },
  );
  const paging = fc.constantFrom('first', 'max', 'search', 'username', 'email', 'exact', 'enabled', 'briefRepresentation', 'type', 'userId', 'clientId', 'ipIn', 'isOffline', 'dateFrom', 'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'prompt');
  const pagingValue = fc.oneof(fc.constantFrom('-1', '0', '1', '10', '100000000000', '1e3', 'abc', 'true', '', '10.0.0.0/8', 'demo-app'), value);
  const authorization = fc.oneof(
    // Mostly the valid admin token, so that admin requests get past authentication to the code behind it.
    { weight: 6, arbitrary: fc.constant<string | null>(ADMIN_BEARER) },
    fc.constant<string | null>(null),
    fc.constantFrom(...known.tokens).map((tok) => `Bearer ${tok}`),
    fc.constantFrom('Bearer', 'Basic', `Basic ${Buffer.from('demo-app:demo-secret').toString('base64')}`, 'Basic !!!', 'Digest x'),
    garbage.map((g) => `Bearer ${headerSafe(g)}`),
  );
  return fc
    .record({
      op: fc.constantFrom(...operations),
      params: fc.array(paramValue, { minLength: 4, maxLength: 4 }),
      query: fc.array(fc.tuple(paging, pagingValue), { maxLength: 4 }),
      authorization,
      origin: fc.option(fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1:3000'), { nil: undefined }),
      body,
    })
    .map(({ op, params, query, authorization: auth, origin, body: b }) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(params[i++ % params.length]!));
      const headers: Record<string, string> = {};
      if (auth !== null) headers['authorization'] = auth;
      if (origin !== undefined) headers['origin'] = origin;
      // Header values are bytes: anything outside visible ASCII would be refused by the client, not the server.
      const sendsBody = op.method !== 'GET' && op.method !== 'OPTIONS' && b.text !== null;
      if (sendsBody && b.contentType !== null) headers['content-type'] = b.contentType;
      if (op.method === 'OPTIONS') headers['access-control-request-method'] = 'POST';
      return { method: op.method, path, query, headers, body: sendsBody ? b.text : null };
    });
}

/** Header values must be visible ASCII (fetch refuses the rest before sending). */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').trim();
}

// ---------------------------------------------------------------------------
// Checks

/** Why the answer breaks the contract, or null. */
function violation(req: FuzzRequest, status: number, contentType: string, text: string): string | null {
  if (status >= 500) return `status ${status}`;
  if (status < 400) return null;
  const json = contentType.includes('json') ? parseJson(text) : undefined;
  if (req.path.startsWith('/admin/')) {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return `admin error body is not a JSON object: ${contentType} ${text.slice(0, 200)}`;
    const body = json as Record<string, unknown>;
    if (typeof body['error'] !== 'string' && typeof body['errorMessage'] !== 'string') return `admin error body without error/errorMessage: ${text.slice(0, 200)}`;
    return null;
  }
  if (contentType.includes('text/html')) return text.length > 0 ? null : 'empty HTML error page';
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return `OIDC error body is neither OAuth JSON nor an HTML page: ${contentType} ${text.slice(0, 200)}`;
  if (typeof (json as Record<string, unknown>)['error'] !== 'string') return `OAuth error body without error: ${text.slice(0, 200)}`;
  return null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function send(req: FuzzRequest): Promise<{ status: number; contentType: string; text: string }> {
  const url = new URL(h.baseUrl + req.path);
  for (const [k, v] of req.query) url.searchParams.append(k, v);
  const asAdmin = req.headers['authorization'] === ADMIN_BEARER;
  const headers = asAdmin ? { ...req.headers, authorization: `Bearer ${adminToken}` } : req.headers;
  const res = await fetch(url, { method: req.method, headers, ...(req.body !== null ? { body: req.body } : {}), redirect: 'manual', signal: AbortSignal.timeout(DEADLINE_MS) });
  const answer = { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  // The request may have ended the admin's session (logout-all, a user logout, a disabled admin...): sign in again.
  if (asAdmin && answer.status === 401) await renewAdmin();
  return answer;
}

async function renewAdmin(): Promise<void> {
  const master = h.node.store.realmByName('master')!;
  const admin = h.node.store.userByUsername(master.id, 'admin');
  if (admin !== undefined && (!admin.enabled || admin.requiredActions.length > 0)) await h.node.store.putUser({ ...admin, enabled: true, requiredActions: [] });
  const res = await h.token('master', { grant_type: 'password', client_id: 'admin-cli', username: 'admin', password: 'admin' });
  if (res.status === 200) adminToken = res.body.access_token as string;
}

test.serial('generated requests from the route table: never a 5xx, always the API\'s error shape, within the deadline', async (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to replay), ${RUNS} requests (FUZZ_RUNS), ${operations.length} operations`);
  t.true(operations.length > 40, 'the route table was read');
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(requestArb(), async (req) => {
      const res = await send(req);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const problem = violation(req, res.status, res.contentType, res.text);
      assert.equal(problem, null, `${req.method} ${req.path}?${new URLSearchParams(req.query)} -> ${problem}`);
    }),
    { seed, numRuns: RUNS, endOnFailure: true },
  );
  t.log(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}x${n}`).join(' ')}`);
});

test.serial('after the run the node serves and every session created before it is intact', async (t) => {
  t.is((await fetch(`${h.managementUrl}/health/ready`)).status, 200);
  const got = await h.node.engine.getSession(witness.sid);
  t.truthy(got);
  t.is(got?.invalid, null);
  t.truthy(await h.node.engine.getOfflineSession(witness.offlineSid));
  t.is((await h.refresh(WITNESS_REALM, ['w', 'ws'], witness.refresh)).status, 200);
  t.is((await h.refresh(WITNESS_REALM, ['w', 'ws'], witness.offlineRefresh)).status, 200);
  t.is((await h.token(WITNESS_REALM, { grant_type: 'password', client_id: 'w', client_secret: 'ws', username: 'w', password: 'pw' })).status, 200);
});
