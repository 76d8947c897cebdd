// The peer of http-refresh: panva's oidc-provider (the widely used Node OIDC
// server), run as its own process (`node dist/bench/http/oidc-provider-server.js
// CONFIG.json`) as docs/performance.md#peers-on-the-same-machine measured it: one confidential client
// with client_secret_basic, a store that keeps every grant (a plain Map
// adapter: the bundled memory adapter is an LRU of 1,000 entries, too small),
// and `grants` grants each with an offline refresh token, created up front
// through its Grant and RefreshToken models.
//
// To sign what sessiond signs per refresh, the access token is a JWT (via a
// resource server, oidc-provider's only way to issue JWT access tokens) and
// an ID token is issued, both with the configured algorithm; refresh-token
// rotation is off, as in sessiond's realm (revokeRefreshToken false), so a
// pool of tokens serves any number of grants.
//
// It writes the refresh tokens to `tokensFile` and prints `PEER-READY {"port":N}`.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider, { type AdapterPayload } from 'oidc-provider';

export interface PeerConfig {
  client: string;
  secret: string;
  grants: number;
  algorithm: 'ES256' | 'RS256';
  tokensFile: string;
}

const RESOURCE = 'urn:sessiond-bench:api';
const SCOPE = 'openid offline_access profile email';
const DAY = 86_400;

const store = new Map<string, AdapterPayload>();

/** Every model in one Map, keyed `<Model>:<id>`; nothing is ever evicted. */
class MapAdapter {
  readonly #model: string;

  constructor(model: string) {
    this.#model = model;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload): Promise<void> {
    store.set(this.#key(id), payload);
    if (this.#model === 'Session' && typeof payload.uid === 'string') store.set(`sessionUid:${payload.uid}`, { id });
    if (typeof payload.userCode === 'string') store.set(`userCode:${payload.userCode}`, { id });
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const ref = store.get(`sessionUid:${uid}`);
    return typeof ref?.['id'] === 'string' ? this.find(ref['id']) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const ref = store.get(`userCode:${userCode}`);
    return typeof ref?.['id'] === 'string' ? this.find(ref['id']) : undefined;
  }

  async consume(id: string): Promise<void> {
    const payload = store.get(this.#key(id));
    if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    // Only on refresh-token reuse or revocation, which the benchmark never does: a scan is fine.
    for (const [key, payload] of store) if (payload.grantId === grantId) store.delete(key);
  }
}

function signingKeys(): object[] {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return [
    { ...ec, kid: 'bench-es256', alg: 'ES256', use: 'sig' },
    { ...rsa, kid: 'bench-rs256', alg: 'RS256', use: 'sig' },
  ];
}

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (configPath === undefined) throw new Error('usage: oidc-provider-server.js CONFIG.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as PeerConfig;

  const provider = new Provider('http://127.0.0.1', {
    adapter: MapAdapter,
    clients: [
      {
        client_id: config.client,
        client_secret: config.secret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: config.algorithm,
      },
    ],
    jwks: { keys: signingKeys() },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, name: `Bench ${sub}`, given_name: 'Bench', family_name: sub, preferred_username: sub, email: `${sub}@bench.example`, email_verified: true }),
    }),
    claims: { openid: ['sub'], profile: ['name', 'given_name', 'family_name', 'preferred_username'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    rotateRefreshToken: false,
    ttl: { AccessToken: 3600, IdToken: 3600, RefreshToken: 30 * DAY, Grant: 30 * DAY },
    cookies: { keys: [randomUUID()] },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: config.algorithm } },
        }),
      },
    },
  });
  // A server error would otherwise only show as a 500 in the load.
  provider.on('server_error', (_ctx: unknown, err: unknown) => process.stderr.write(`server_error: ${String((err as Error)?.stack ?? err)}\n`));

  const client = await provider.Client.find(config.client);
  if (client === undefined) throw new Error('client not found');
  const authTime = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < config.grants; i++) {
    const accountId = `bench-user-${i}`;
    const grant = new provider.Grant({ accountId, clientId: config.client });
    grant.addOIDCScope(SCOPE);
    grant.addResourceScope(RESOURCE, 'api');
    const grantId = await grant.save();
    const refreshToken = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'authorization_code',
      scope: `${SCOPE} api`,
      resource: RESOURCE,
      authTime,
      expiresWithSession: false,
      rotations: 0,
    });
    tokens.push(await refreshToken.save());
  }
  writeFileSync(config.tokensFile, JSON.stringify(tokens));

  const server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`PEER-READY ${JSON.stringify({ port, grants: config.grants, stored: store.size })}\n`);

  const stop = (): void => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`oidc-provider-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
