// The workload of the cluster tests: K virtual users drive a bounded mixed
// load through random nodes — password logins, the browser code flow,
// refreshes with rotation, introspections, logouts, and deliberate replays
// of used refresh tokens and codes — each request with a 2 s deadline, and
// append one HistoryEntry per request. A final verification pass asks every
// node about every session it knows; checkHistory() then says whether any
// acknowledged change was lost (history-checker.ts).
//
// An answer is 'ok' (2xx), 'fail' (4xx: the node refused, with a reason) or
// 'unknown' (5xx, timeout, connection error: it may or may not have
// happened). The realm is test/fixtures/cluster-realm (PBKDF2 with one
// iteration: hashing must not be what the load measures).

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { authorizationUrl, parseForm, TestBrowser } from '../helpers/browser-client.js';
import { checkHistory, type HistoryEntry, type Outcome, type Violation } from './history-checker.js';

/** Each request's deadline: past it the outcome is unknown. */
export const REQUEST_DEADLINE_MS = 2_000;
/** The directory of the cluster tests' realm (relative to dist/test/cluster/). */
export const CLUSTER_REALM_DIR = new URL('../../../test/fixtures/cluster-realm/', import.meta.url).pathname;
export const CLUSTER_REALM = 'cluster';
export const CLUSTER_CLIENT = { clientId: 'load', secret: 'load-secret', redirectUri: 'http://127.0.0.1:5000/callback' };
/**
 * The realm's users: user001 … user256, password `<username>-password`. All of
 * a user's sessions share one partition, so many users spread the load over
 * many partitions (about 230 of the 1024).
 */
export const CLUSTER_USERS = Array.from({ length: 256 }, (_, i) => `user${String(i + 1).padStart(3, '0')}`);

/** The clock of histories and fault marks: milliseconds on this process's monotonic clock. */
export function clock(): number {
  return Math.round(performance.now() * 10) / 10;
}

/** A node the workload may send requests to. */
export interface WorkloadTarget {
  id: string;
  /** Its public base URL, e.g. http://127.0.0.2:8081. */
  url: string;
}

/** How often each step is chosen for a virtual user that holds a session (the rest are refreshes). */
export interface WorkloadMix {
  introspect: number;
  logout: number;
  /** Present the refresh token an acknowledged rotation used up (must fail), then retire the session. */
  replay: number;
  /** Leave the session alive (it must survive to the verification) and start a new one. */
  abandon: number;
  /** Of the logins, the share done through the browser code flow (the rest: password grant). */
  codeFlow: number;
}

/** Of the acknowledged logouts, the share followed at once by an introspection of the session. */
const POST_LOGOUT_READ_SHARE = 0.5;

export const DEFAULT_MIX: WorkloadMix = { introspect: 0.35, logout: 0.04, replay: 0.02, abandon: 0.06, codeFlow: 0.1 };

export interface WorkloadOptions {
  targets: readonly WorkloadTarget[];
  /** Virtual users (each one request at a time). */
  virtualUsers?: number;
  /** All virtual users together send at most this many requests per second. */
  ratePerSecond?: number;
  seed?: number;
  mix?: Partial<WorkloadMix>;
  /** The users to log in as (default: all of CLUSTER_USERS). */
  users?: readonly string[];
}

/** What the workload knows of one session. */
interface KnownSession {
  sid: string;
  access: string;
  refresh: string | null;
  /** A refresh token an acknowledged rotation used up. */
  usedRefresh: string | null;
  /** A refresh ended unknown: which token is current is no longer known. */
  chainUnknown: boolean;
  retired: boolean;
}

interface Answer {
  outcome: Outcome;
  status?: number;
  body: Record<string, unknown>;
  detail?: string;
}

/** A small seeded generator (mulberry32): runs are repeatable from the printed seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export class Workload {
  readonly history: HistoryEntry[] = [];
  readonly seed: number;
  readonly #targets: Map<string, WorkloadTarget>;
  #routed: WorkloadTarget[];
  readonly #rand: () => number;
  readonly #mix: WorkloadMix;
  readonly #virtualUsers: number;
  readonly #intervalMs: number;
  readonly #users: readonly string[];
  readonly #sessions = new Map<string, KnownSession>();
  #nextSlot = 0;
  #running = false;
  #loops: Promise<void>[] = [];
  #unknownLogins = 0;

  constructor(options: WorkloadOptions) {
    this.#targets = new Map(options.targets.map((t) => [t.id, t]));
    this.#routed = [...options.targets];
    this.seed = options.seed ?? Number(process.env['SESSIOND_WORKLOAD_SEED'] ?? Date.now() % 1_000_000);
    this.#rand = random(this.seed);
    this.#mix = { ...DEFAULT_MIX, ...options.mix };
    this.#virtualUsers = options.virtualUsers ?? 16;
    this.#intervalMs = 1000 / (options.ratePerSecond ?? 150);
    this.#users = options.users ?? CLUSTER_USERS;
  }

  /** Sends the next requests only to these nodes (what a load balancer does when a node is gone). */
  route(ids: readonly string[]): void {
    const routed = ids.map((id) => {
      const target = this.#targets.get(id);
      if (target === undefined) throw new Error(`unknown node ${id}`);
      return target;
    });
    if (routed.length === 0) throw new Error('route() needs at least one node');
    this.#routed = routed;
  }

  /** Sessions the workload knows (a login or code exchange told it their id). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Starts the virtual users; they run until stop(). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loops = Array.from({ length: this.#virtualUsers }, () => this.#virtualUser());
  }

  /** Stops the virtual users and waits for their last requests. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  /** Creates `count` sessions by password logins (recorded), `concurrency` at a time, not rate-bounded. */
  async populate(count: number, concurrency = 16): Promise<number> {
    let next = 0;
    let created = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        if ((await this.#passwordLogin()) !== null) created++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return created;
  }

  /**
   * The verification pass: every known session introspected on every given
   * node (default: all), recorded as 'verify' entries. Call it after heal
   * and settle; a verification that ends unknown is a P4 violation.
   */
  async verify(nodeIds: readonly string[] = [...this.#targets.keys()], concurrency = 16): Promise<void> {
    const jobs: Array<[KnownSession, WorkloadTarget]> = [];
    for (const s of this.#sessions.values()) for (const id of nodeIds) jobs.push([s, this.#targets.get(id)!]);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const [s, target] = jobs[next++]!;
        const invokeMs = clock();
        const a = await this.#post(target, 'token/introspect', { token: s.access });
        this.#record({ op: 'verify', session: s.sid, node: target.id, invokeMs, ...this.#result(a), ...(a.outcome === 'ok' ? { active: a.body['active'] === true } : {}) });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  /** The checker's verdict on everything recorded so far. */
  violations(): Violation[] {
    return checkHistory(this.history);
  }

  /** Counts per op and outcome, e.g. { 'login ok': 120, 'refresh unknown': 3 }. */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.history) out[`${e.op} ${e.outcome}`] = (out[`${e.op} ${e.outcome}`] ?? 0) + 1;
    return out;
  }

  /** Writes the history as JSONL (one entry per line), e.g. into a failed test's artifacts. */
  async writeHistory(file: string): Promise<void> {
    await writeFile(file, this.history.map((e) => JSON.stringify(e)).join('\n') + '\n');
  }

  // -------------------------------------------------------------------------

  async #virtualUser(): Promise<void> {
    let current: KnownSession | null = null;
    while (this.#running) {
      await this.#slot();
      if (!this.#running) break;
      if (current === null || current.retired) {
        current = this.#rand() < this.#mix.codeFlow ? await this.#codeLogin() : await this.#passwordLogin();
        continue;
      }
      const r = this.#rand();
      const m = this.#mix;
      if (r < m.logout) await this.#logout(current);
      else if (r < m.logout + m.replay && current.usedRefresh !== null) await this.#replay(current);
      else if (r < m.logout + m.replay + m.abandon) current = null;
      else if (r < m.logout + m.replay + m.abandon + m.introspect || current.chainUnknown || current.refresh === null) await this.#introspect(current);
      else await this.#refresh(current);
    }
  }

  /** Waits for the next request slot of the shared rate. */
  async #slot(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.#nextSlot);
    this.#nextSlot = at + this.#intervalMs;
    await sleep(at - now);
  }

  #pick(): WorkloadTarget {
    return this.#routed[Math.floor(this.#rand() * this.#routed.length)]!;
  }

  #user(): string {
    return this.#users[Math.floor(this.#rand() * this.#users.length)]!;
  }

  #record(entry: Omit<HistoryEntry, 'completeMs'>): void {
    this.history.push({ ...entry, completeMs: clock() } as HistoryEntry);
  }

  #result(a: Answer): Pick<HistoryEntry, 'outcome' | 'status' | 'detail'> {
    return { outcome: a.outcome, ...(a.status !== undefined ? { status: a.status } : {}), ...(a.detail !== undefined ? { detail: a.detail } : {}) };
  }

  #unknownSession(): string {
    return `unknown-login-${++this.#unknownLogins}`;
  }

  #learn(sid: string, body: Record<string, unknown>): KnownSession {
    const s: KnownSession = { sid, access: String(body['access_token']), refresh: typeof body['refresh_token'] === 'string' ? body['refresh_token'] : null, usedRefresh: null, chainUnknown: false, retired: false };
    this.#sessions.set(sid, s);
    return s;
  }

  async #passwordLogin(): Promise<KnownSession | null> {
    const target = this.#pick();
    const username = this.#user();
    const invokeMs = clock();
    const a = await this.#post(target, 'token', { grant_type: 'password', username, password: `${username}-password`, scope: 'openid' });
    const sid = a.outcome === 'ok' ? String(a.body['session_state']) : this.#unknownSession();
    this.#record({ op: 'login', session: sid, node: target.id, invokeMs, ...this.#result(a), ...(a.outcome === 'ok' ? { newToken: String(a.body['refresh_token']) } : {}) });
    return a.outcome === 'ok' ? this.#learn(sid, a.body) : null;
  }

  /**
   * The browser code flow: the login form on one node (a browser keeps
   * talking to the node its login started on), the code exchanged on a random
   * node, and sometimes replayed (it must fail).
   */
  async #codeLogin(): Promise<KnownSession | null> {
    const target = this.#pick();
    const browser = new TestBrowser();
    const invokeMs = clock();
    let code: string | null = null;
    let answer: Answer;
    try {
      const realmUrl = `${target.url}/realms/${CLUSTER_REALM}`;
      const page = await withDeadline(browser.get(authorizationUrl(realmUrl, { client_id: CLUSTER_CLIENT.clientId, redirect_uri: CLUSTER_CLIENT.redirectUri, response_type: 'code', scope: 'openid', state: randomBytes(6).toString('hex') })));
      if (page.status !== 200) {
        answer = statusAnswer(page.status, page.text);
      } else {
        const form = parseForm(page.text);
        // The form posts to the public hostname: send it to this node instead.
        const action = new URL(form.action, target.url);
        const posted = `${target.url}${action.pathname}${action.search}`;
        const username = this.#user();
        const res = await withDeadline(browser.post(posted, { ...form.fields, username, password: `${username}-password` }));
        code = res.status === 302 ? (res.location?.searchParams.get('code') ?? null) : null;
        answer = code !== null ? { outcome: 'ok', status: 302, body: {} } : statusAnswer(res.status, res.text);
      }
    } catch (err) {
      answer = { outcome: 'unknown', body: {}, detail: String(err) };
    }
    // A code is "<secret>.<session id>".
    const sid = code !== null ? code.slice(code.lastIndexOf('.') + 1) : this.#unknownSession();
    this.#record({ op: 'login', session: sid, node: target.id, invokeMs, ...this.#result(answer) });
    if (code === null) return null;

    const exchange = async (): Promise<void> => {
      const at = this.#pick();
      const invokeMs = clock();
      const a = await this.#post(at, 'token', { grant_type: 'authorization_code', code: code!, redirect_uri: CLUSTER_CLIENT.redirectUri });
      this.#record({ op: 'code', session: sid, token: code!, node: at.id, invokeMs, ...this.#result(a), ...(a.outcome === 'ok' ? { newToken: String(a.body['refresh_token']) } : {}), ...(replay ? { probe: true } : {}) });
      if (a.outcome === 'ok' && session === null) session = this.#learn(sid, a.body);
    };
    let replay = false;
    let session: KnownSession | null = null;
    await exchange();
    if (session !== null && this.#rand() < 0.5) {
      replay = true; // it must fail
      await exchange();
    }
    return session;
  }

  async #refresh(s: KnownSession): Promise<void> {
    const target = this.#pick();
    const token = s.refresh!;
    const invokeMs = clock();
    const a = await this.#post(target, 'token', { grant_type: 'refresh_token', refresh_token: token });
    const next = a.outcome === 'ok' ? String(a.body['refresh_token']) : undefined;
    this.#record({ op: 'refresh', session: s.sid, token, node: target.id, invokeMs, ...this.#result(a), ...(next !== undefined ? { newToken: next } : {}) });
    if (a.outcome === 'ok') {
      s.usedRefresh = token;
      s.refresh = next!;
      s.access = String(a.body['access_token']);
    } else if (a.outcome === 'unknown') {
      s.chainUnknown = true; // it may have rotated: the token we hold may be used up
      // And the token used before is then two rotations back, which Keycloak's rules refuse only
      // when it was issued in an earlier second than the last refresh ("Stale token"): within the
      // same second it passes, on one node as on many. Only the last used token is sure to fail.
      s.usedRefresh = null;
    } else {
      s.retired = true; // refused: the verification says whether the session should have survived
    }
  }

  async #introspect(s: KnownSession): Promise<void> {
    const target = this.#pick();
    const invokeMs = clock();
    const a = await this.#post(target, 'token/introspect', { token: s.access });
    this.#record({ op: 'introspect', session: s.sid, node: target.id, invokeMs, ...this.#result(a), ...(a.outcome === 'ok' ? { active: a.body['active'] === true } : {}) });
  }

  async #logout(s: KnownSession, probe = false): Promise<void> {
    const target = this.#pick();
    const invokeMs = clock();
    s.retired = true;
    const a = await this.#post(target, 'logout', { refresh_token: s.refresh ?? '' });
    this.#record({ op: 'logout', session: s.sid, ...(s.refresh !== null ? { token: s.refresh } : {}), node: target.id, invokeMs, ...this.#result(a), ...(probe ? { probe: true } : {}) });
    // A read right after an acknowledged logout, on any node, must find the session gone.
    if (a.outcome === 'ok' && this.#rand() < POST_LOGOUT_READ_SHARE) await this.#introspect(s);
  }

  /** Presents a used-up refresh token (it must fail); reuse detection ends the chain, so the session retires by logout. */
  async #replay(s: KnownSession): Promise<void> {
    const target = this.#pick();
    const token = s.usedRefresh!;
    const invokeMs = clock();
    const a = await this.#post(target, 'token', { grant_type: 'refresh_token', refresh_token: token });
    this.#record({ op: 'refresh', session: s.sid, token, node: target.id, invokeMs, ...this.#result(a), probe: true });
    s.usedRefresh = null;
    await this.#logout(s, true);
  }

  async #post(target: WorkloadTarget, path: string, form: Record<string, string>): Promise<Answer> {
    try {
      const res = await fetch(`${target.url}/realms/${CLUSTER_REALM}/protocol/openid-connect/${path}`, {
        method: 'POST',
        body: new URLSearchParams({ client_id: CLUSTER_CLIENT.clientId, client_secret: CLUSTER_CLIENT.secret, ...form }),
        signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
      });
      return statusAnswer(res.status, await res.text());
    } catch (err) {
      return { outcome: 'unknown', body: {}, detail: err instanceof Error ? `${err.name}: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}` : String(err) };
    }
  }
}

function statusAnswer(status: number, text: string): Answer {
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    body = {};
  }
  const outcome: Outcome = status >= 200 && status < 400 ? 'ok' : status >= 500 ? 'unknown' : 'fail';
  const detail = typeof body['error_description'] === 'string' ? body['error_description'] : typeof body['error'] === 'string' ? body['error'] : undefined;
  return { outcome, status, body, ...(outcome !== 'ok' && detail !== undefined ? { detail } : {}) };
}

/** The request deadline for a step that is not a single fetch (a browser page). */
async function withDeadline<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_DEADLINE_MS} ms`)), REQUEST_DEADLINE_MS);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One password login outside the load (not recorded): its status and body. */
export async function passwordLogin(target: WorkloadTarget, username: string): Promise<{ status: number | 'unknown'; body: Record<string, unknown> }> {
  return oidcPost(target, 'token', { grant_type: 'password', username, password: `${username}-password`, scope: 'openid' });
}

/** One refresh_token grant outside the load (not recorded). */
export async function refreshGrant(target: WorkloadTarget, refreshToken: string): Promise<{ status: number | 'unknown'; body: Record<string, unknown> }> {
  return oidcPost(target, 'token', { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** One introspection outside the load (not recorded). */
export async function introspect(target: WorkloadTarget, token: string): Promise<{ status: number | 'unknown'; body: Record<string, unknown> }> {
  return oidcPost(target, 'token/introspect', { token });
}

async function oidcPost(target: WorkloadTarget, path: string, form: Record<string, string>): Promise<{ status: number | 'unknown'; body: Record<string, unknown> }> {
  try {
    const res = await fetch(`${target.url}/realms/${CLUSTER_REALM}/protocol/openid-connect/${path}`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: CLUSTER_CLIENT.clientId, client_secret: CLUSTER_CLIENT.secret, ...form }),
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    const a = statusAnswer(res.status, await res.text());
    return { status: res.status, body: a.body };
  } catch {
    return { status: 'unknown', body: {} };
  }
}
