// engine-table: one shard's session table driven in-process through
// ShardActor.execute (no threads, no codec), against a plain Map of
// fixed-shape objects holding the same sessions under the same ids, both in
// this process and measured alternately (docs/performance.md#targets rows 1-2).
//
// Both sides pay for the command object a decoded frame would give the actor
// (the actor's side builds it in the loop; the Map's side needs none), and both
// walk the same random permutation of all N sessions, so neither enjoys cache
// locality the other lacks.

import type { ShardActor } from '../../src/actor/shard-actor.js';
import { IDLE_GRACE_DEFAULT_S } from '../../src/constants.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S, SSO_SESSION_MAX_LIFESPAN_DEFAULT_S } from '../../src/session/index.js';
import { permutation } from '../lib/data.js';
import {
  REMOVE_REASON,
  START_SECOND,
  createCommand,
  inProcessActor,
  plainSession,
  sessionInput,
  type PlainSession,
  type SessionInput,
} from '../lib/in-process-shard.js';
import { row, type Row, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const NAME = 'engine-table';
const SESSIONS_FULL = 1_000_000;
const SESSIONS_QUICK = 200_000;
const REPEATS_FULL = 3;
const REPEATS_QUICK = 1;
/** create+delete pairs per repeat: a fifth of the table, enough to last ~1 s. */
const CREATE_DELETE_DIVISOR = 5;
/** Ops run once before timing so that both sides are optimised before the clock starts. */
const WARMUP_OPS = 20_000;

function collect(): void {
  globalThis.gc?.();
}

/** ops/s of `body`, which performs `ops` operations and returns how many failed (must be 0). */
function timed(what: string, ops: number, body: () => number): number {
  collect();
  const start = process.hrtime.bigint();
  const failed = body();
  const ns = Number(process.hrtime.bigint() - start);
  if (failed !== 0) throw new Error(`${what}: ${failed} of ${ops} operations failed`);
  return (ops * 1e9) / ns;
}

// --- touch -----------------------------------------------------------------

function touchActor(actor: ShardActor, ids: readonly string[], order: Int32Array, count: number, now: number): number {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    if (actor.execute({ op: OP.sessionTouch, id: ids[order[i]!]!, now }) !== true) failed++;
  }
  return failed;
}

// Baseline: Map.get + two field writes (the user session's and its client session's idle clocks).
function touchMap(map: Map<string, PlainSession>, ids: readonly string[], order: Int32Array, count: number, now: number): number {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const s = map.get(ids[order[i]!]!);
    if (s === undefined) {
      failed++;
      continue;
    }
    s.last = now;
    s.clientTimestamp = now;
  }
  return failed;
}

// --- create + delete -------------------------------------------------------

function createDeleteActor(actor: ShardActor, inputs: readonly SessionInput[], count: number, now: number): number {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const input = inputs[i]!;
    actor.execute(createCommand(input, now));
    if (actor.execute({ op: OP.sessionRemove, id: input.id, reason: REMOVE_REASON }) === null) failed++;
  }
  return failed;
}

// Baseline: Map.set of a same-size object, then Map.delete.
function createDeleteMap(map: Map<string, PlainSession>, inputs: readonly SessionInput[], count: number, now: number): number {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const input = inputs[i]!;
    map.set(input.id, plainSession(input, now));
    if (!map.delete(input.id)) failed++;
  }
  return failed;
}

// --- get -------------------------------------------------------------------

let sink = 0;

function getActor(actor: ShardActor, ids: readonly string[], order: Int32Array, count: number, now: number): number {
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const got = actor.execute({ op: OP.sessionGet, id: ids[order[i]!]!, now });
    if (got === null) failed++;
  }
  return failed;
}

// Baseline: a plain-object store answers a get by handing its stored object to
// the encoder, so the fair equivalent of building a view is Map.get plus
// reading every field the view carries, plus the validity rule of
// docs/keycloak-semantics.md#validity-checks (idle with grace, max) that the actor evaluates for the session and its
// client session. The actor also materialises a new view object (ip formatted
// from its uint32, client list, clientsInvalid record) because its sessions
// are not objects: that is the price of the compact layout, and this ratio
// shows it (docs/performance.md#targets sets no target for it).
function getMap(map: Map<string, PlainSession>, ids: readonly string[], order: Int32Array, count: number, now: number): number {
  let failed = 0;
  let acc = 0;
  const idle = SSO_SESSION_IDLE_TIMEOUT_DEFAULT_S;
  const max = SSO_SESSION_MAX_LIFESPAN_DEFAULT_S;
  const grace = IDLE_GRACE_DEFAULT_S;
  for (let i = 0; i < count; i++) {
    const s = map.get(ids[order[i]!]!);
    if (s === undefined) {
      failed++;
      continue;
    }
    acc += s.id.length + s.userId.length + s.username.length + s.ip.length + s.realm.length + s.authMethod.length;
    acc += s.started + s.last + s.authTime + (s.rememberMe ? 1 : 0);
    acc += s.client.length + s.clientStarted + s.clientTimestamp + s.scope.length;
    const valid = s.last + idle > now - grace && s.started + max > now;
    const clientValid = s.clientTimestamp + idle > now - grace && s.clientStarted + max > now;
    if (valid && clientValid) acc++;
  }
  sink = (sink + acc) | 0;
  return failed;
}

// ---------------------------------------------------------------------------

interface Pair {
  value: number[];
  baseline: number[];
}

export const engineTable: Scenario = {
  name: NAME,
  description: 'in-process ShardActor/SessionTable touch, create+delete and get vs a plain Map of objects (1 M sessions)',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const repeats = quick ? REPEATS_QUICK : REPEATS_FULL;
    const churn = Math.floor(n / CREATE_DELETE_DIVISOR);

    log(`building ${n.toLocaleString('en-US')} sessions (actor) and the same in a Map`);
    const actor = inProcessActor();
    const map = new Map<string, PlainSession>();
    const ids: string[] = new Array<string>(n);
    let buildActorNs = 0n;
    for (let i = 0; i < n; i++) {
      const input = sessionInput(i);
      ids[i] = input.id;
      const t = process.hrtime.bigint();
      actor.execute(createCommand(input, START_SECOND));
      buildActorNs += process.hrtime.bigint() - t;
      map.set(input.id, plainSession(input, START_SECOND));
    }
    if (actor.table.size !== n || map.size !== n) throw new Error(`expected ${n} sessions, have ${actor.table.size} / ${map.size}`);
    log(`built: actor create ${((n * 1e9) / Number(buildActorNs) / 1e3).toFixed(0)} k/s while growing`);

    // Sessions the create+delete loop adds and removes again (the table stays at N around it).
    const churnInputs: SessionInput[] = [];
    for (let i = 0; i < churn; i++) churnInputs.push(sessionInput(n + i));

    const touchOrder = permutation(n, 1);
    const getOrder = permutation(n, 2);
    const warm = Math.min(WARMUP_OPS, n, churn);
    touchActor(actor, ids, touchOrder, warm, START_SECOND + 1);
    touchMap(map, ids, touchOrder, warm, START_SECOND + 1);
    createDeleteActor(actor, churnInputs, warm, START_SECOND + 1);
    createDeleteMap(map, churnInputs, warm, START_SECOND + 1);
    getActor(actor, ids, getOrder, warm, START_SECOND + 1);
    getMap(map, ids, getOrder, warm, START_SECOND + 1);

    const touch: Pair = { value: [], baseline: [] };
    const createDelete: Pair = { value: [], baseline: [] };
    const get: Pair = { value: [], baseline: [] };
    for (let r = 0; r < repeats; r++) {
      const now = START_SECOND + 10 + r;
      // Alternate which side goes first so that drift on a shared machine hits both.
      const actorFirst = r % 2 === 0;
      const pairs: [Pair, () => number, () => number][] = [
        [
          touch,
          () => timed('touch (actor)', n, () => touchActor(actor, ids, touchOrder, n, now)),
          () => timed('touch (map)', n, () => touchMap(map, ids, touchOrder, n, now)),
        ],
        [
          createDelete,
          () => timed('create+delete (actor)', churn, () => createDeleteActor(actor, churnInputs, churn, now)),
          () => timed('create+delete (map)', churn, () => createDeleteMap(map, churnInputs, churn, now)),
        ],
        [
          get,
          () => timed('get (actor)', n, () => getActor(actor, ids, getOrder, n, now)),
          () => timed('get (map)', n, () => getMap(map, ids, getOrder, n, now)),
        ],
      ];
      for (const [pair, measureActor, measureMap] of pairs) {
        if (actorFirst) {
          pair.value.push(measureActor());
          pair.baseline.push(measureMap());
        } else {
          pair.baseline.push(measureMap());
          pair.value.push(measureActor());
        }
      }
      const k = (x: number[]): string => `${(x[x.length - 1]! / 1e3).toFixed(0)}k`;
      log(
        `repeat ${r + 1}/${repeats}: touch ${k(touch.value)} vs ${k(touch.baseline)}, ` +
          `create+delete ${k(createDelete.value)} vs ${k(createDelete.baseline)}, get ${k(get.value)} vs ${k(get.baseline)} ops/s`,
      );
    }
    if (actor.table.size !== n) throw new Error(`table size drifted to ${actor.table.size}`);
    if (sink === 0.5) log('');

    const rows: Row[] = [
      row(NAME, 'touch_ops_per_s', median(touch.value), 'ops/s', median(touch.baseline)),
      row(NAME, 'create_delete_ops_per_s', median(createDelete.value), 'ops/s', median(createDelete.baseline)),
      row(NAME, 'get_ops_per_s', median(get.value), 'ops/s', median(get.baseline)),
    ];
    return rows;
  },
};
