// cluster-touch-lag: how far behind its primary a backup's idle clocks are,
// and whether a session expires before its time when its primary dies.
//
// A touch (an idle-clock move: a refresh without rotation, an SSO cookie's
// use) is not waited for: the primary ships touches to the backups every
// --touch-replication-interval (1 s), coalesced per session. A touch's lag
// (applied on the primary → applied on its backups) is its wait for the next
// shipment, at most the interval plus how late the timer fires (the
// event-loop delay), plus the frame's way to the backup and its application
// there, which each node measures (sessiond_replication_ack_seconds: sent →
// acknowledged once applied).
//
// End to end, under a load of touches: probe sessions whose partition's
// primary is the victim are touched once after their login, then once more at
// a random moment of the last TOUCH_WINDOW_MS before kill -9 of the victim.
// After the failover the admin API's session read on the promoted copy says
// whether that second touch got there (its lastAccess, in whole seconds, moved
// past the first touch's second, QUIET_MS or more earlier). Then each
// probe session is introspected once, CHECK_LEAD_MS before the earliest moment
// it may expire: its touch's second + idle timeout + grace. The nodes run with
// --idle-grace-seconds 0 (Keycloak's persistent-session strictness), where
// nothing hides a lost touch.
//
//   touch_replication_lag_p99_ms   the interval + the nodes' event-loop delay p99 (the
//                                  worst node, over the touch window) + the replication
//                                  acknowledgement p99 (every frame of every node over the
//                                  window, as the upper bound of its histogram bucket):
//                                  an upper bound of the p99, from what the nodes export (< 1500 ms)
//   touch_replication_ack_p99_ms   that acknowledgement p99 alone
//   touch_staleness_at_failover_ms the oldest acknowledged probe touch the promoted copies
//                                  did not have: its age at the kill (the backup's lag at
//                                  that moment, seen end to end; one sample per run)
//   early_expirations              probe sessions introspected inactive before their idle
//                                  timeout after their acknowledged touch, + grace (= 0)
//   early_expiration_max_seconds   how much sooner than allowed the earliest of them was due:
//                                  its touch's second minus the promoted copy's lastAccess
//   touch_probes, touch_probes_replicated, expiry_checks
//   lost_acknowledged              probe sessions the promoted copies did not have, and
//                                  sessions of the touch load whose acknowledged login no
//                                  longer refreshes at the end (= 0)
//   checker_violations             the history checker over the mixed workload (= 0)
//
// The touch load: 4 workers refreshing (rotation off) random sessions of a pool
// in a realm with a day's idle timeout, through the live nodes; the probes live
// in a realm of their own with a 15 s idle timeout. The mixed workload runs
// through the nodes that report ready, as a load balancer would route it.

import { adminToken } from '../../test/cluster/admin-client.js';
import { clock } from '../../test/cluster/workload.js';
import { partitionOfSessionId } from '../../src/protocol/partition.js';
import type { RealmSpec } from '../http/realm-file.js';
import { form } from '../http/requests.js';
import { paths, type Target } from '../http/target.js';
import { clusterRealm, loginSessions, refreshOnce, verifySessions } from '../lib/cluster-sessions.js';
import { RefreshWorkload } from '../lib/cluster-workload.js';
import { finalRows, sleep, WARMUP_MS, withFaultCluster, type FaultRun } from '../lib/fault-cluster.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';
import { bucketQuantile } from '../lib/stats.js';

const NAME = 'cluster-touch-lag';
const IDLE_S = 15;
const GRACE_S = 0;
const TOUCH_INTERVAL_MS = 1_000;
const ACK_HISTOGRAM = 'sessiond_replication_ack_seconds';
const LOOP_DELAY_P99 = 'sessiond_nodejs_eventloop_lag_p99_seconds';
/** Users of the probe realm (a third of them have their partition's primary on the victim). */
const PROBE_USERS = 1_200;
const PROBE_USERS_QUICK = 240;
const LOAD_REALM = clusterRealm(false);
const LOAD_SESSIONS = 2_000;
const LOAD_SESSIONS_QUICK = 300;
const LOAD_WORKERS = 4;
const LOAD_PAUSE_MS = 10;
/** Probe touches are spread over this window, which ends with the kill. */
const TOUCH_WINDOW_MS = 3_000;
/**
 * Between the probes' first touch and the window: longer than the touch
 * interval (that touch is on the backups by then), and a window touch's
 * second is always past it.
 */
const QUIET_MS = 2_500;
/** An expiry check is sent this long before the probe may expire, with this deadline. */
const CHECK_LEAD_MS = 1_000;
/** The lag bound's window ends this long before the kill. */
const SNAPSHOT_LEAD_MS = 1_000;
const CHECK_DEADLINE_MS = 800;
const REQUEST_DEADLINE_MS = 2_000;
/** How long a probe's session read may keep failing after the kill (failover) before it counts as missing. */
const READ_GIVE_UP_MS = 20_000;
const READ_RETRY_MS = 200;
const LOGIN_CONCURRENCY = 8;

interface Probe {
  sid: string;
  access: string;
  refresh: string;
  /** When its first touch was answered: wall-clock ms (the nodes' clock: same machine). */
  settled?: number;
  touchSent?: number;
  /** The touch was acknowledged before the kill. */
  touched?: boolean;
  /** lastAccess of the promoted copy (ms, whole seconds), null when the session was not found. */
  copyLastAccess?: number | null;
  /** true: introspected inactive before it may expire; false: active; undefined: not checked in time. */
  expiredEarly?: boolean;
}

function probeRealm(users: number): RealmSpec {
  return { ...clusterRealm(false), name: 'bench-idle', users, idleSeconds: IDLE_S };
}

export const clusterTouchLag: Scenario = {
  name: NAME,
  description: 'touch replication under load, then kill -9 of a primary: touch lag p99 on its backups, sessions expiring before idle + grace',
  async run({ quick, log }) {
    const realm = probeRealm(quick ? PROBE_USERS_QUICK : PROBE_USERS);
    return withFaultCluster({ name: NAME, log, realms: [LOAD_REALM, realm], extraArgs: ['--idle-grace-seconds', String(GRACE_S), '--touch-replication-interval', String(TOUCH_INTERVAL_MS)] }, async (run) => {
      const down = new Set<string>();
      const live = (): string[] => run.cluster.ids.filter((id) => !down.has(id));
      const pool = await loginSessions(run.cluster.ids.map((id) => run.target(id, LOAD_REALM)), quick ? LOAD_SESSIONS_QUICK : LOAD_SESSIONS, 4, 1, log);
      const touches = new RefreshWorkload(pool, () => live().map((id) => run.target(id, LOAD_REALM)), LOAD_PAUSE_MS);
      touches.start(LOAD_WORKERS);
      let failover: Failover;
      try {
        run.startLoad(true);
        await sleep(WARMUP_MS);
        failover = await probedFailover(run, realm, down);
      } finally {
        await touches.stop();
      }
      const { probes, killedAt, lag } = failover;
      const check = await run.finish();
      const verified = await verifySessions(run.cluster.ids.map((id) => run.target(id, LOAD_REALM)), pool, 4, 1);
      log(`touch load: ${touches.tally.ok} touches ok, ${touches.tally.refused + touches.tally.unknown} failed; its sessions: ${verified.checked} refreshed at the end, ${verified.failed.length} failed${verified.samples.length > 0 ? `: ${verified.samples.join('; ')}` : ''}`);
      const missingProbes = probes.filter((p) => p.copyLastAccess === null).length;
      return [
        row(NAME, 'touch_replication_lag_p99_ms', lag.p99Ms, 'ms'),
        row(NAME, 'touch_replication_ack_p99_ms', lag.ackP99Ms, 'ms'),
        ...probeRows(probes, killedAt, log),
        row(NAME, 'lost_acknowledged', verified.failed.length + missingProbes, 'sessions'),
        ...finalRows(NAME, check),
      ] satisfies Row[];
    });
  },
};

/** What the failover showed. */
interface Failover {
  probes: Probe[];
  killedAt: number;
  lag: LagBound;
}

/**
 * The probes' whole course: logins and first touches, the window's touches
 * and the kill, the promoted copies read, the expiry checks; then the victim
 * is started again.
 */
async function probedFailover(run: FaultRun, realm: RealmSpec, down: Set<string>): Promise<Failover> {
  const victim = await victimOf(run);
  const windowStart = await replicationSnapshot(run);
  const probes = await loginProbes(run, realm, victim);
  await firstTouch(run, realm, probes);
  // Before the kill: the admin login's own session may live on the victim's partitions.
  const admin = await adminToken(run.cluster.node(run.cluster.ids.find((id) => id !== victim)!).url);
  const { killedAt, windowEnd } = await touchThenKill(run, realm, probes, victim, down);
  const lag = lagBound(windowStart, windowEnd);
  run.log(`touch lag bound: ${TOUCH_INTERVAL_MS} ms interval + ${lag.loopDelayP99Ms.toFixed(1)} ms event-loop delay p99 + ${lag.ackP99Ms} ms acknowledgement p99 (${lag.frames} frames)`);
  const survivors = run.cluster.ids.filter((id) => !down.has(id)).map((id) => run.target(id, realm));
  await readCopies(run, realm, probes, survivors, admin, killedAt);
  await checkExpiry(realm, probes, survivors);
  await run.cluster.node(victim).spawn();
  down.delete(victim);
  return { probes, killedAt, lag };
}

/** A node that is not the coordinator (its death is then about its partitions only). */
async function victimOf(run: FaultRun): Promise<string> {
  const coordinator = await run.coordinator();
  const victim = run.cluster.ids.find((id) => id !== coordinator)!;
  run.log(`victim ${victim} (coordinator: ${coordinator ?? 'none reported'})`);
  return victim;
}

/** A form POST to a realm endpoint with the client's credentials; status 0 when no answer came in time. */
async function post(target: Target, path: string, fields: Record<string, string>, deadlineMs: number): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const res = await fetch(`${target.origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization },
      body: form(fields),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const text = await res.text();
    return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : { text } };
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
}

/** One session per probe-realm user; keeps those whose partition's primary is the victim. */
async function loginProbes(run: FaultRun, realm: RealmSpec, victim: string): Promise<Probe[]> {
  const table = await run.table();
  const probes: Probe[] = [];
  let next = 0;
  const login = async (k: number): Promise<void> => {
    for (let user = next++; user < realm.users; user = next++) {
      const target = run.target(run.cluster.ids[k % run.cluster.ids.length]!, realm);
      const { status, body } = await post(target, paths.token(target, realm.name), { grant_type: 'password', username: `${realm.usersPrefix}${user}`, password: realm.password, scope: 'openid' }, REQUEST_DEADLINE_MS);
      if (status !== 200) throw new Error(`probe login ${realm.usersPrefix}${user}: ${status} ${JSON.stringify(body).slice(0, 200)}`);
      const sid = String(body['session_state']);
      if (table.owners[partitionOfSessionId(sid)]![0] !== victim) continue;
      probes.push({ sid, access: String(body['access_token']), refresh: String(body['refresh_token']) });
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, (_, k) => login(k)));
  run.log(`${probes.length} probe sessions of ${realm.users} logins have their partition's primary on ${victim}`);
  if (probes.length === 0) throw new Error(`no probe session has its primary on ${victim}`);
  return probes;
}

/**
 * Touches every probe once, so that what a promoted copy holds without the
 * window's touch is this touch (the probe logins take seconds: a copy left
 * with a login's second could expire before it is read).
 */
async function firstTouch(run: FaultRun, realm: RealmSpec, probes: Probe[]): Promise<void> {
  let next = 0;
  const touch = async (k: number): Promise<void> => {
    for (let i = next++; i < probes.length; i = next++) {
      const probe = probes[i]!;
      const outcome = await refreshOnce(run.target(run.cluster.ids[k % run.cluster.ids.length]!, realm), probe.refresh, REQUEST_DEADLINE_MS, realm.name);
      if (outcome.status !== 200) throw new Error(`first touch of probe ${probe.sid}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
      probe.settled = Date.now();
    }
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, (_, k) => touch(k)));
}

/**
 * Touches each probe once at a random moment of the window, reads what the
 * nodes export about replication SNAPSHOT_LEAD_MS before the window ends,
 * kills the victim (SIGKILL) when it ends, and waits for the touches still in
 * flight. Returns the kill's wall-clock time and that reading.
 */
async function touchThenKill(run: FaultRun, realm: RealmSpec, probes: Probe[], victim: string, down: Set<string>): Promise<{ killedAt: number; windowEnd: ReplicationSnapshot }> {
  const windowStart = Math.max(...probes.map((p) => p.settled!)) + QUIET_MS;
  const killAt = windowStart + TOUCH_WINDOW_MS;
  const ids = run.cluster.ids;
  const touch = async (probe: Probe, k: number): Promise<void> => {
    await sleep(windowStart + Math.random() * TOUCH_WINDOW_MS - Date.now());
    probe.touchSent = Date.now();
    const outcome = await refreshOnce(run.target(ids[k % ids.length]!, realm), probe.refresh, REQUEST_DEADLINE_MS, realm.name);
    probe.touched = outcome.status === 200 && Date.now() < killAt;
  };
  const touching = Promise.all(probes.map(touch));
  // Read before the kill without delaying it (a scrape of three loaded nodes can take a while).
  const reading = sleep(killAt - SNAPSHOT_LEAD_MS - Date.now()).then(() => replicationSnapshot(run));
  await sleep(killAt - Date.now());
  const killedAt = Date.now();
  down.add(victim);
  await run.cluster.node(victim).kill('SIGKILL');
  run.log(`kill -9 ${victim} at the end of the touch window (at ${Math.round(clock())} ms on the history's clock)`);
  await touching;
  return { killedAt, windowEnd: await reading };
}

/** Reads each acknowledged probe's session from the promoted copy (through the survivors, retried across the failover). */
async function readCopies(run: FaultRun, realm: RealmSpec, probes: Probe[], survivors: readonly Target[], token: string, killedAt: number): Promise<void> {
  const read = async (probe: Probe, k: number): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const target = survivors[(k + attempt) % survivors.length]!;
      const res = await fetch(`${target.origin}/admin/realms/${realm.name}/sessions/${probe.sid}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) }).catch(() => null);
      const body = res === null ? null : ((await res.json().catch(() => null)) as { lastAccess?: number } | null);
      if (res?.status === 200 && typeof body?.lastAccess === 'number') {
        probe.copyLastAccess = body.lastAccess;
        return;
      }
      if (res?.status === 404 || Date.now() - killedAt > READ_GIVE_UP_MS) {
        probe.copyLastAccess = null;
        return;
      }
      await sleep(READ_RETRY_MS);
    }
  };
  const acknowledged = probes.filter((p) => p.touched === true);
  await Promise.all(acknowledged.map(read));
  run.log(`promoted copies read ${Date.now() - killedAt} ms after the kill; ${acknowledged.filter((p) => p.copyLastAccess === null).length} of ${acknowledged.length} not found`);
}

/** The earliest wall-clock ms at which a probe may expire: its touch's second (at the earliest) + idle + grace. */
function mayExpireAt(probe: Probe): number {
  return (Math.floor(probe.touchSent! / 1000) + IDLE_S + GRACE_S) * 1000;
}

/** Introspects each acknowledged probe once, just before it may expire. */
async function checkExpiry(realm: RealmSpec, probes: Probe[], survivors: readonly Target[]): Promise<void> {
  const check = async (probe: Probe, k: number): Promise<void> => {
    const deadline = mayExpireAt(probe);
    await sleep(deadline - CHECK_LEAD_MS - Date.now());
    const target = survivors[k % survivors.length]!;
    const { status, body } = await post(target, paths.introspect(target, realm.name), { token: probe.access }, CHECK_DEADLINE_MS);
    if (status === 200 && Date.now() < deadline) probe.expiredEarly = body['active'] !== true;
  };
  await Promise.all(probes.filter((p) => p.touched === true && p.copyLastAccess !== null).map(check));
}

/** The probes' figures: the backup's staleness at the kill, early expirations. */
function probeRows(probes: readonly Probe[], killedAt: number, log: (line: string) => void): Row[] {
  const read = probes.filter((p) => p.touched === true && p.copyLastAccess !== undefined && p.copyLastAccess !== null);
  const samples = read.map((p) => ({ age: killedAt - p.touchSent!, there: p.copyLastAccess! >= Math.floor(p.touchSent! / 1000) * 1000 }));
  const missing = samples.filter((s) => !s.there).map((s) => Math.round(s.age)).sort((a, b) => a - b);
  const checked = probes.filter((p) => p.expiredEarly !== undefined);
  const early = checked.filter((p) => p.expiredEarly === true);
  // Expiring from the copy's lastAccess instead of the touch's second: this much sooner than allowed.
  const earlyBy = early.map((p) => (Math.floor(p.touchSent! / 1000) * 1000 - (p.copyLastAccess ?? 0)) / 1000);
  log(
    `${probes.length} probes, ${probes.filter((p) => p.touched === true).length} touches acknowledged before the kill, ${read.length} copies read: ` +
      `${samples.length - missing.length} had the touch, ${missing.length} did not (ages ${missing.join(', ')} ms); ` +
      `${checked.length} expiry checks in time, ${early.length} inactive before idle + grace (due up to ${Math.max(0, ...earlyBy)} s sooner than allowed)`,
  );
  return [
    row(NAME, 'touch_staleness_at_failover_ms', missing.at(-1) ?? 0, 'ms'),
    row(NAME, 'early_expirations', early.length, 'sessions'),
    row(NAME, 'early_expiration_max_seconds', Math.max(0, ...earlyBy), 's'),
    row(NAME, 'touch_probes', samples.length, 'sessions'),
    row(NAME, 'touch_probes_replicated', samples.length - missing.length, 'sessions'),
    row(NAME, 'expiry_checks', checked.length, 'sessions'),
  ];
}

/** What one node exports about replication at one moment. */
interface NodeReplication {
  /** The acknowledgement histogram's cumulative counts by upper bound. */
  ackBuckets: Map<number, number>;
  /** The event-loop delay p99 since the previous scrape of its metrics (ms). */
  loopDelayP99Ms: number;
}

/** Per node that answered. */
type ReplicationSnapshot = Map<string, NodeReplication>;

async function replicationSnapshot(run: FaultRun): Promise<ReplicationSnapshot> {
  const snapshot: ReplicationSnapshot = new Map();
  const all = await Promise.all(run.cluster.nodes.map(async (n) => [n.id, await n.metrics()] as const));
  for (const [id, samples] of all) {
    if (samples === undefined) continue;
    const node: NodeReplication = { ackBuckets: new Map(), loopDelayP99Ms: 0 };
    for (const s of samples) {
      if (s.name === `${ACK_HISTOGRAM}_bucket`) node.ackBuckets.set(s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']), s.value);
      else if (s.name === LOOP_DELAY_P99) node.loopDelayP99Ms = s.value * 1000;
    }
    snapshot.set(id, node);
  }
  return snapshot;
}

interface LagBound {
  /** Interval + event-loop delay p99 + acknowledgement p99 (NaN without acknowledgements). */
  p99Ms: number;
  ackP99Ms: number;
  loopDelayP99Ms: number;
  /** Frames acknowledged in the window. */
  frames: number;
}

/**
 * The touch lag's p99 bound over the window between two snapshots (the
 * scrape at `start` began each node's event-loop window), from the nodes
 * that answered both.
 */
function lagBound(start: ReplicationSnapshot, end: ReplicationSnapshot): LagBound {
  const window = new Map<number, number>();
  let loopDelayP99Ms = 0;
  for (const [id, last] of end) {
    const first = start.get(id);
    if (first === undefined) continue;
    for (const [le, count] of last.ackBuckets) window.set(le, (window.get(le) ?? 0) + count - (first.ackBuckets.get(le) ?? 0));
    loopDelayP99Ms = Math.max(loopDelayP99Ms, last.loopDelayP99Ms);
  }
  const ack = bucketQuantile([...window].map(([le, count]) => ({ le, count })), 0.99);
  const ackP99Ms = ack === null ? Number.NaN : ack * 1000;
  return { p99Ms: TOUCH_INTERVAL_MS + loopDelayP99Ms + ackP99Ms, ackP99Ms, loopDelayP99Ms, frames: window.get(Infinity) ?? 0 };
}
