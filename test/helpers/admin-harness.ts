// Admin REST tests against a real node (HTTP result reading is shared with
// node-harness.ts): a SessiondNode in-process
// on free 127.0.0.1 ports with a temp data directory, the demo realm imported
// with cheap password hashing, optionally a ManualClock in 'manual' clock
// mode; a Keycloak admin client authenticated as the master realm's
// bootstrap admin (admin/admin, admin-cli, password grant); raw HTTP for the
// extensions and error cases; and password grants from a chosen loopback
// source address (Linux routes all of 127.0.0.0/8 to lo) so sessions get
// different client IPs without a proxy.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';
import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import { parseOptions } from '../../src/config/options.js';
import { parsePasswordPolicy } from '../../src/crypto/password-hasher.js';
import { SessiondNode } from '../../src/node.js';
import { clientDefaults, completeRealm, defaultRoleName, newRealmBundle, userDefaults, type RealmOverrides } from '../../src/realm/defaults.js';
import { parseKeycloakRealm } from '../../src/realm/import/keycloak-realm.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../src/realm/model.js';
import { ManualClock } from '../../src/time/clock.js';
import { readResult, type HttpResult } from './node-harness.js';

export { KcAdminClient, NetworkError };

/** Cheap PBKDF2 for every realm the tests log in to (the master admin's credential too). */
export const CHEAP_HASHING = 'hashIterations(1000)';
const DEMO_REALM_FILE = fileURLToPath(new URL('../../../realms/demo-realm.json', import.meta.url));

export const DEMO_APP: [string, string] = ['demo-app', 'demo-secret'];

export type { HttpResult } from './node-harness.js';

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  session_state?: string;
  expires_in: number;
  refresh_expires_in: number;
  scope: string;
  'not-before-policy': number;
}

export interface AdminNodeOptions {
  /** A ManualClock in 'manual' clock mode, starting now: time moves only through advance(). */
  manualClock?: boolean;
  shards?: number;
}

export interface TestRealmSpec {
  overrides?: RealmOverrides;
  clients?: (Partial<Omit<ClientRecord, 'id' | 'realmId' | 'clientId'>> & { clientId: string })[];
  users?: { username: string; password: string; realmRoles?: string[]; clientRoles?: Record<string, string[]> }[];
}

export class AdminNode {
  readonly node: SessiondNode;
  readonly clock: ManualClock | null;
  readonly dataDir: string;
  readonly baseUrl: string;
  readonly managementUrl: string;
  readonly kc: KcAdminClient;
  #stopped = false;

  private constructor(node: SessiondNode, clock: ManualClock | null, dataDir: string) {
    this.node = node;
    this.clock = clock;
    this.dataDir = dataDir;
    this.baseUrl = `http://127.0.0.1:${(node.server.server.address() as AddressInfo).port}`;
    this.managementUrl = `http://127.0.0.1:${(node.management.server.address() as AddressInfo).port}`;
    this.kc = new KcAdminClient({ baseUrl: this.baseUrl, realmName: 'master' });
  }

  static async start(options: AdminNodeOptions = {}): Promise<AdminNode> {
    const dataDir = mkdtempSync(join(tmpdir(), 'sessiond-admin-'));
    const parsed = parseOptions([], {});
    if (parsed.help) throw new Error('unreachable: no --help given');
    const clock = options.manualClock === true ? new ManualClock(Math.floor(Date.now() / 1000)) : null;
    let node: SessiondNode;
    try {
      node = await SessiondNode.start({
        options: { ...parsed.options, dataDir, host: '127.0.0.1', httpPort: 0, managementPort: 0, grpcPort: 0, shards: options.shards ?? 2, importRealm: null, logLevel: 'silent' },
        log: pino({ level: 'silent' }),
        hasherSize: 1,
        ...(clock !== null ? { clock, clockMode: 'manual' as const } : {}),
      });
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    try {
      // The master admin's credential re-hashed cheaply: the tests log in as admin often.
      const master = node.store.realmByName('master')!;
      await node.store.updateRealm({ ...master, passwordPolicy: CHEAP_HASHING });
      const admin = node.store.userByUsername(master.id, 'admin')!;
      await node.store.putUser({ ...admin, credentials: [await node.hasher.hash('admin', parsePasswordPolicy(CHEAP_HASHING))] });
      const json = JSON.parse(readFileSync(DEMO_REALM_FILE, 'utf8')) as Record<string, unknown>;
      json['passwordPolicy'] = CHEAP_HASHING;
      const { bundle } = parseKeycloakRealm(json, DEMO_REALM_FILE);
      await node.importBundle(completeRealm(bundle), DEMO_REALM_FILE);
      await node.listen();
    } catch (err) {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    const a = new AdminNode(node, clock, dataDir);
    try {
      await a.settle();
      await a.reauth();
    } catch (err) {
      await a.stop();
      throw err;
    }
    return a;
  }

  /** (Re-)authenticates the admin client: master tokens live 60 s, manual-clock tests move past that. */
  async reauth(): Promise<void> {
    this.kc.setConfig({ realmName: 'master' });
    await this.kc.auth({ username: 'admin', password: 'admin', grantType: 'password', clientId: 'admin-cli' });
  }

  /** The admin client's bearer token. */
  get token(): string {
    return this.kc.accessToken!;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.node.stop();
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Virtual time: moves the clock and lets every shard fire what became due. */
  async advance(seconds: number): Promise<void> {
    if (this.clock === null) throw new Error('advance() needs a manual-clock node');
    this.clock.advance(seconds);
    await this.node.engine.advanceTime(this.clock.nowSeconds());
  }

  now(): number {
    return this.node.clock.nowSeconds();
  }

  /** A round trip through every shard: store changes pushed before it have reached the engine. */
  async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.node.engine.stats();
  }

  /** Waits until LMDB has committed the writes issued so far (events are written without waiting). */
  async committed(): Promise<void> {
    await this.settle();
    await this.node.env.root.committed;
  }

  /** Creates a realm directly in the store (cheap hashing; default role, hence offline_access, for every user). */
  async createRealm(spec: TestRealmSpec = {}): Promise<{ realm: RealmRecord; name: string; clients: Map<string, ClientRecord>; users: Map<string, UserRecord> }> {
    const name = `t-${randomUUID().slice(0, 8)}`;
    const bundle = newRealmBundle(name, { passwordPolicy: CHEAP_HASHING, ...spec.overrides });
    for (const c of spec.clients ?? []) {
      const { clientId, ...rest } = c;
      bundle.clients.push({ ...clientDefaults(bundle.realm.id, clientId), ...rest });
    }
    for (const u of spec.users ?? []) {
      const user = userDefaults(bundle.realm.id, u.username, {
        enabled: true,
        realmRoles: u.realmRoles ?? [defaultRoleName(name)],
        clientRoles: u.clientRoles ?? {},
      });
      bundle.users.push(user);
      bundle.plainPasswords.push({ userId: user.id, password: u.password, temporary: false });
    }
    const complete = completeRealm(bundle);
    const realm = await this.node.importBundle(complete, 'test');
    await this.settle();
    return {
      realm,
      name,
      clients: new Map(complete.clients.map((c) => [c.clientId, c])),
      users: new Map(complete.users.map((u) => [u.username, this.node.store.userById(u.id)!])),
    };
  }

  /** Raw admin API call; `path` is below /admin/realms. Token: the admin's unless given (null: none). */
  async api(method: string, path: string, options: { body?: unknown; rawBody?: string; token?: string | null; contentType?: string } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = {};
    const bearer = options.token === undefined ? this.token : options.token;
    if (bearer !== null) headers['authorization'] = `Bearer ${bearer}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const res = await fetch(`${this.baseUrl}/admin/realms${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    return readResult(res);
  }

  oidcUrl(realm: string, path: string): string {
    return `${this.baseUrl}/realms/${realm}/protocol/openid-connect/${path}`;
  }

  /** A password grant from `localAddress` (default 127.0.0.1); throws unless 200. */
  async login(realm: string, client: [string, string | null], username: string, password: string, options: { localAddress?: string; scope?: string } = {}): Promise<TokenResponse> {
    const form: Record<string, string> = { grant_type: 'password', client_id: client[0], username, password, scope: options.scope ?? 'openid' };
    if (client[1] !== null) form['client_secret'] = client[1];
    const res = await postForm(this.oidcUrl(realm, 'token'), form, options.localAddress);
    if (res.status !== 200) throw new Error(`password grant for ${username} failed: ${res.status} ${res.text}`);
    return res.body as TokenResponse;
  }

  /** A password grant, any answer. */
  passwordGrant(realm: string, client: [string, string], username: string, password: string): Promise<HttpResult> {
    return postForm(this.oidcUrl(realm, 'token'), { grant_type: 'password', client_id: client[0], client_secret: client[1], username, password, scope: 'openid' });
  }

  refresh(realm: string, client: [string, string], refreshToken: string): Promise<HttpResult> {
    return postForm(this.oidcUrl(realm, 'token'), { grant_type: 'refresh_token', client_id: client[0], client_secret: client[1], refresh_token: refreshToken });
  }

  introspect(realm: string, client: [string, string], token: string): Promise<HttpResult> {
    return postForm(this.oidcUrl(realm, 'token/introspect'), { token, client_id: client[0], client_secret: client[1] });
  }

  /** RP logout with a refresh token (non-browser, §4.2). */
  logout(realm: string, client: [string, string], refreshToken: string): Promise<HttpResult> {
    return postForm(this.oidcUrl(realm, 'logout'), { client_id: client[0], client_secret: client[1], refresh_token: refreshToken });
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.managementUrl}/metrics`)).text();
  }
}

export function startAdminNode(options: AdminNodeOptions = {}): Promise<AdminNode> {
  return AdminNode.start(options);
}

/** The HTTP status and body of an admin-client call that must fail. */
export async function kcError(t: ExecutionContext, call: Promise<unknown>): Promise<{ status: number; data: any }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof NetworkError) return { status: err.response.status, data: err.responseData };
    throw err;
  }
  t.fail('expected the admin call to fail');
  return { status: 0, data: undefined };
}

/** POSTs a form, optionally from a chosen local (source) address: node:http binds it (fetch cannot without undici's Agent, not installed). */
export function postForm(url: string, form: Record<string, string>, localAddress?: string): Promise<HttpResult> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        ...(localAddress !== undefined ? { localAddress } : {}),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode ?? 0, headers, body: parsed, text });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Decodes a JWT's payload without verifying it. */
export function claims(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, any>;
}
