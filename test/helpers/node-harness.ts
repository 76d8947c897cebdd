// A real SessiondNode in-process for HTTP integration tests: a temp data
// directory, the demo realm imported (with cheap password hashing so logins
// cost a millisecond, not 200), both servers listening on free loopback
// ports, a silent logger, and optionally a ManualClock in 'manual' clock mode
// so that expiry happens only when a test advances time. Test realms,
// clients and users are written through node.store / node.importBundle.
// Every node is stopped (and its directory removed) by stop(), which tests
// call from their teardown / after.always hook.
//
// Shared by several suites (OIDC, admin, browser login): two entry points,
// startNode() (argv-style options, cheap demo hashing, helpers for realms and
// HTTP) and startTestNode() (NodeOptions overrides, the repository's realms/
// imported as is). Both return a TestNode. Extend, do not replace.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { parseOptions, type NodeOptions } from '../../src/config/options.js';
import { parsePasswordPolicy } from '../../src/crypto/password-hasher.js';
import { SessiondNode } from '../../src/node.js';
import { clientDefaults, completeRealm, defaultRoleName, newRealmBundle, userDefaults, type RealmOverrides } from '../../src/realm/defaults.js';
import { parseKeycloakRealm } from '../../src/realm/import/keycloak-realm.js';
import type { ClientRecord, RealmRecord, UserRecord } from '../../src/realm/model.js';
import { ManualClock, type Clock } from '../../src/time/clock.js';

/** Cheap PBKDF2 for test realms (the demo realm's users are re-hashed with it too). */
export const TEST_PASSWORD_POLICY = 'hashIterations(1000)';

/** The repository's realm directory (this file runs from dist/test/helpers). */
export const REALMS_DIR = fileURLToPath(new URL('../../../realms', import.meta.url));
const DEMO_REALM_FILE = join(REALMS_DIR, 'demo-realm.json');

export interface StartNodeOptions {
  /** Run on a ManualClock in 'manual' clock mode starting at this epoch second (true: the current second). */
  manualClock?: boolean | number;
  /** --idle-grace-seconds (default 120, as the node). */
  idleGraceSeconds?: number;
  /** --hostname */
  hostname?: string;
  /** --shards (default 2). */
  shards?: number;
  /** Reuse a data directory (restart); the caller owns it then. */
  dataDir?: string;
  /** Import the demo realm (default true; skipped when it exists already). */
  demo?: boolean;
  /** Fixed ports (default 0: free ones). A restart keeps the old ports so that issuers stay the same. */
  httpPort?: number;
  managementPort?: number;
  /** --access-log */
  accessLog?: boolean;
  /** --shutdown-delay in ms (default 0 here: tests stop nodes all the time; the node's default is 1000). */
  shutdownDelayMs?: number;
  /** The node's logger (default: silent). */
  log?: Logger;
  /** More flags, appended as given (e.g. `['--proxy-headers', 'xforwarded']`). */
  argv?: string[];
}

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text ('' for no body). */
  body: any;
  text: string;
}

export interface NewClient extends Partial<Omit<ClientRecord, 'id' | 'realmId' | 'clientId'>> {
  clientId: string;
}

export interface NewUser {
  username: string;
  password?: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  enabled?: boolean;
  /** Default: the realm's default role (which brings offline_access). */
  realmRoles?: string[];
  requiredActions?: string[];
}

export interface RealmSpec {
  name?: string;
  overrides?: RealmOverrides;
  clients?: NewClient[];
  users?: NewUser[];
}

export interface TestRealm {
  realm: RealmRecord;
  name: string;
  clients: Map<string, ClientRecord>;
  users: Map<string, UserRecord>;
  /** Issuer URL as seen through 127.0.0.1. */
  issuer: string;
}

export class TestNode {
  readonly node: SessiondNode;
  readonly options: NodeOptions;
  readonly clock: ManualClock | null;
  readonly dataDir: string;
  readonly ownsDataDir: boolean;
  /** `http://127.0.0.1:<port>` of the public server. */
  readonly baseUrl: string;
  readonly managementUrl: string;
  #stopped = false;

  constructor(parts: { node: SessiondNode; options: NodeOptions; clock: ManualClock | null; dataDir: string; ownsDataDir: boolean }) {
    this.node = parts.node;
    this.options = parts.options;
    this.clock = parts.clock;
    this.dataDir = parts.dataDir;
    this.ownsDataDir = parts.ownsDataDir;
    this.baseUrl = `http://127.0.0.1:${(parts.node.server.server.address() as AddressInfo).port}`;
    this.managementUrl = `http://127.0.0.1:${(parts.node.management.server.address() as AddressInfo).port}`;
  }

  /** A realm of the store by name (throws when it does not exist). */
  realm(name: string): RealmRecord {
    const realm = this.node.store.realmByName(name);
    if (realm === undefined) throw new Error(`realm ${name} not imported`);
    return realm;
  }

  realmUrl(realm = 'demo'): string {
    return `${this.baseUrl}/realms/${realm}`;
  }

  oidcUrl(realm: string, path: string): string {
    return `${this.realmUrl(realm)}/protocol/openid-connect/${path}`;
  }

  /** Virtual time only: moves the clock and lets every shard fire what became due. */
  async advance(seconds: number): Promise<void> {
    if (this.clock === null) throw new Error('advance() needs a node started with manualClock');
    this.clock.advance(seconds);
    await this.node.engine.advanceTime(this.clock.nowSeconds());
  }

  /** Now, as the node sees it (epoch s). */
  now(): number {
    return this.node.clock.nowSeconds();
  }

  /** Stops the node; removes the data directory when the harness created it (unless keepData). */
  async stop(options: { keepData?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.node.stop();
    } finally {
      if (this.ownsDataDir && options.keepData !== true) rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Graceful stop, then a new node on the same data directory, ports and clock time. The new node owns the directory. */
  async restart(options: StartNodeOptions = {}): Promise<TestNode> {
    await this.stop({ keepData: true });
    const next = await startNode({
      ...options,
      dataDir: this.dataDir,
      ...(this.clock !== null ? { manualClock: this.clock.nowSeconds() } : {}),
      httpPort: Number(new URL(this.baseUrl).port),
      managementPort: Number(new URL(this.managementUrl).port),
      idleGraceSeconds: options.idleGraceSeconds ?? this.options.idleGraceSeconds,
      ...(this.options.hostname !== null ? { hostname: this.options.hostname } : {}),
    });
    return new TestNode({ node: next.node, options: next.options, clock: next.clock, dataDir: this.dataDir, ownsDataDir: this.ownsDataDir });
  }

  // ------------------------------------------------------------------ realms

  /** Creates a realm with cheap password hashing, its clients and users; names default to a fresh unique one. */
  async createRealm(spec: RealmSpec = {}): Promise<TestRealm> {
    const name = spec.name ?? `t-${randomUUID().slice(0, 8)}`;
    const bundle = newRealmBundle(name, { passwordPolicy: TEST_PASSWORD_POLICY, ...spec.overrides });
    const realmId = bundle.realm.id;
    for (const c of spec.clients ?? []) {
      const { clientId, ...rest } = c;
      bundle.clients.push({ ...clientDefaults(realmId, clientId), ...rest });
    }
    for (const u of spec.users ?? []) {
      const user = userRecord(bundle.realm, u);
      bundle.users.push(user);
      if (u.password !== undefined) bundle.plainPasswords.push({ userId: user.id, password: u.password, temporary: false });
    }
    const complete = completeRealm(bundle);
    const realm = await this.node.importBundle(complete, 'test');
    await this.settle();
    const clients = new Map(complete.clients.map((c) => [c.clientId, c]));
    const users = new Map(complete.users.map((u) => [u.username, this.node.store.userById(u.id)!]));
    return { realm, name, clients, users, issuer: this.realmUrl(name) };
  }

  /** Adds a user to an existing realm (password hashed with the realm's policy). */
  async addUser(realmName: string, spec: NewUser): Promise<UserRecord> {
    const realm = this.realm(realmName);
    const user = userRecord(realm, spec);
    if (spec.password !== undefined) user.credentials = [await this.node.hasher.hash(spec.password, parsePasswordPolicy(realm.passwordPolicy))];
    await this.node.store.putUser(user);
    return user;
  }

  /** Adds or replaces a client of an existing realm (fields not given keep their value). */
  async putClient(realmName: string, spec: NewClient): Promise<ClientRecord> {
    const realm = this.realm(realmName);
    const existing = this.node.store.clientByClientId(realm.id, spec.clientId);
    const { clientId, ...rest } = spec;
    const client: ClientRecord = { ...(existing ?? clientDefaults(realm.id, clientId)), ...rest };
    await this.node.store.putClient(client);
    await this.settle();
    return client;
  }

  /** Replaces a realm's session settings (and other fields) and waits until the engine has them. */
  async updateRealm(realmName: string, change: { sessions?: Partial<RealmRecord['sessions']> } & Partial<Omit<RealmRecord, 'sessions'>>): Promise<RealmRecord> {
    const realm = this.realm(realmName);
    const { sessions, ...rest } = change;
    const next: RealmRecord = { ...realm, ...rest, sessions: { ...realm.sessions, ...sessions } };
    await this.node.store.updateRealm(next);
    await this.settle();
    return next;
  }

  /**
   * Store changes reach the engine through events whose pushes are not
   * awaited by the writer; a round trip through every shard after them means
   * they have been applied (each shard serves its mailbox in order).
   */
  async settle(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.node.engine.stats();
  }

  // -------------------------------------------------------------------- HTTP

  /** POSTs a form (or a raw body with its content type) and reads the answer. */
  async post(
    url: string,
    form: Record<string, string | string[]> | URLSearchParams | string,
    options: { headers?: Record<string, string>; basic?: [string, string]; contentType?: string } = {},
  ): Promise<HttpResult> {
    let body: string;
    if (typeof form === 'string') body = form;
    else if (form instanceof URLSearchParams) body = form.toString();
    else {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(form)) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
      body = params.toString();
    }
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded', ...options.headers };
    if (options.basic !== undefined) {
      const enc = (s: string): string => encodeURIComponent(s);
      headers['authorization'] = `Basic ${Buffer.from(`${enc(options.basic[0])}:${enc(options.basic[1])}`).toString('base64')}`;
    }
    return readResult(await fetchOnce(url, { method: 'POST', headers, body }));
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
    return readResult(await fetchOnce(url, { headers }));
  }

  /** POST .../token in realm `realm`. */
  token(realm: string, form: Record<string, string | string[]>, options: { headers?: Record<string, string>; basic?: [string, string] } = {}): Promise<HttpResult> {
    return this.post(this.oidcUrl(realm, 'token'), form, options);
  }

  /** A password grant; fails loudly unless it answers 200. */
  async login(realm: string, client: [string, string | null], username: string, password: string, scope = 'openid'): Promise<TokenResponse> {
    const form: Record<string, string> = { grant_type: 'password', client_id: client[0], username, password, scope };
    if (client[1] !== null) form['client_secret'] = client[1];
    const res = await this.token(realm, form);
    if (res.status !== 200) throw new Error(`password grant failed: ${res.status} ${res.text}`);
    return res.body as TokenResponse;
  }

  /** A refresh_token grant (any answer). */
  refresh(realm: string, client: [string, string | null], refreshToken: string, extra: Record<string, string> = {}): Promise<HttpResult> {
    const form: Record<string, string> = { grant_type: 'refresh_token', client_id: client[0], refresh_token: refreshToken, ...extra };
    if (client[1] !== null) form['client_secret'] = client[1];
    return this.token(realm, form);
  }

  introspect(realm: string, client: [string, string], token: string): Promise<HttpResult> {
    return this.post(this.oidcUrl(realm, 'token/introspect'), { token, client_id: client[0], client_secret: client[1] });
  }

  /** Text of /metrics on the management port. */
  async metrics(): Promise<string> {
    const res = await fetch(`${this.managementUrl}/metrics`);
    return res.text();
  }
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_expires_in: number;
  refresh_token?: string;
  token_type: string;
  id_token?: string;
  'not-before-policy': number;
  session_state?: string;
  scope: string;
}

export async function readResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, headers: res.headers, body, text };
}

function userRecord(realm: RealmRecord, u: NewUser): UserRecord {
  return userDefaults(realm.id, u.username.toLowerCase(), {
    email: u.email ?? null,
    emailVerified: u.email !== undefined && u.email !== null,
    firstName: u.firstName ?? null,
    lastName: u.lastName ?? null,
    enabled: u.enabled ?? true,
    realmRoles: u.realmRoles ?? [defaultRoleName(realm.name)],
    requiredActions: u.requiredActions ?? [],
  });
}

/** Decodes a JWT's payload without verifying it (tests only). */
export function claims(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, any>;
}

/** Decodes a JWT's header. */
export function header(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as Record<string, any>;
}

/** Starts a node listening on free 127.0.0.1 ports with the demo realm imported (cheap hashing). */
export async function startNode(options: StartNodeOptions = {}): Promise<TestNode> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'sessiond-http-'));
  const argv = [
    '--http-port', String(options.httpPort ?? 0),
    '--management-port', String(options.managementPort ?? 0),
    '--host', '127.0.0.1',
    '--data-dir', dataDir,
    '--shards', String(options.shards ?? 2),
    '--log-level', 'silent',
    '--shutdown-delay', String(options.shutdownDelayMs ?? 0),
  ];
  if (options.idleGraceSeconds !== undefined) argv.push('--idle-grace-seconds', String(options.idleGraceSeconds));
  if (options.hostname !== undefined) argv.push('--hostname', options.hostname);
  if (options.accessLog === true) argv.push('--access-log');
  if (options.argv !== undefined) argv.push(...options.argv);
  const parsed = parseOptions(argv, {});
  if (parsed.help) throw new Error('unexpected --help');
  const clock =
    options.manualClock === undefined || options.manualClock === false
      ? null
      : new ManualClock(options.manualClock === true ? Math.floor(Date.now() / 1000) : options.manualClock);
  let node: SessiondNode;
  try {
    node = await SessiondNode.start({
      options: parsed.options,
      log: options.log ?? pino({ level: 'silent' }),
      hasherSize: 1,
      ...(clock !== null ? { clock, clockMode: 'manual' as const } : {}),
    });
  } catch (err) {
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  try {
    if (options.demo !== false && node.store.realmByName('demo') === undefined) {
      const json = JSON.parse(readFileSync(DEMO_REALM_FILE, 'utf8')) as Record<string, unknown>;
      json['passwordPolicy'] = TEST_PASSWORD_POLICY;
      const { bundle } = parseKeycloakRealm(json, DEMO_REALM_FILE);
      await node.importBundle(completeRealm(bundle), DEMO_REALM_FILE);
    }
    await node.listen();
  } catch (err) {
    await node.stop();
    if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const harness = new TestNode({ node, options: parsed.options, clock, dataDir, ownsDataDir });
  await harness.settle();
  return harness;
}

export interface TestNodeOptions {
  options?: Partial<NodeOptions>;
  clock?: Clock;
  clockMode?: 'system' | 'manual';
}

/**
 * A node with NodeOptions overrides and the repository's realms/ imported as
 * they are (the demo realm with its real password policy).
 */
export async function startTestNode(input: TestNodeOptions = {}): Promise<TestNode> {
  const parsed = parseOptions([], {});
  if (parsed.help) throw new Error('unreachable: no --help given');
  const dataDir = mkdtempSync(join(tmpdir(), 'sessiond-http-'));
  const options: NodeOptions = {
    ...parsed.options,
    dataDir,
    importRealm: REALMS_DIR,
    host: '127.0.0.1',
    httpPort: 0,
    managementPort: 0,
    grpcPort: 0,
    shards: 2,
    logLevel: 'silent',
    ...input.options,
  };
  let node: SessiondNode;
  try {
    node = await SessiondNode.start({
      options,
      log: pino({ level: 'silent' }),
      hasherSize: 2,
      ...(input.clock !== undefined ? { clock: input.clock } : {}),
      ...(input.clockMode !== undefined ? { clockMode: input.clockMode } : {}),
    });
    await node.listen();
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const clock = input.clock instanceof ManualClock ? input.clock : null;
  return new TestNode({ node, options, clock, dataDir, ownsDataDir: true });
}

/** Waits (bounded) until `condition` holds: store changes reach the engine asynchronously. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The demo realm's clients, as [clientId, secret]. */
export const DEMO_APP: [string, string] = ['demo-app', 'demo-secret'];
export const DEMO_SPA: [string, null] = ['demo-spa', null];
export const DEMO_SERVICE: [string, string] = ['demo-service', 'demo-service-secret'];

/**
 * fetch, retried once when the pooled keep-alive socket it picked was being
 * closed by the server at that moment (the server closes a connection after
 * refusing an oversized body, and tests send those concurrently). That is a
 * client-side race, not the server failing; a second failure is reported.
 */
async function fetchOnce(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET' && code !== 'EPIPE') throw err;
    return fetch(url, init);
  }
}
