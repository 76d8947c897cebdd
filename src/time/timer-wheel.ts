// TimerWheel: a hierarchical timing wheel (Varghese & Lauck) with a one-second
// tick, holding one deadline per small integer id. A shard actor keeps one entry
// per session slot in it, at min(idle deadline + grace, max deadline)
// (docs/architecture.md#expiry-one-wheel-entry-per-session-lazy-re-arm), and asks it every turn which sessions are due.
//
// Design
// ------
// Time is whole epoch seconds stored as Uint32, so a deadline is a 32-bit
// number and every level of the wheel is a group of its bits:
//
//   bit   31 ..... 26 25 ..... 20 19 ..... 14 13 ...... 8 7 ........ 0
//        | level 4   | level 3   | level 2   | level 1   |  level 0    |
//        | 64 slots  | 64 slots  | 64 slots  | 64 slots  |  256 slots  |
//        | 2^26 s    | 2^20 s    | 16384 s   | 256 s     |  1 s        |  <- one slot spans
//        | ~136 y    | ~2.1 y    | ~12.1 d   | ~4.6 h    |  ~4.3 min   |  <- the level spans
//
// The wheel keeps a cursor: the second it has swept up to. An entry with
// deadline d goes to the level of the highest bit in which d and the cursor
// differ, in the slot given by d's bits at that level. So level 0 holds the
// deadlines in the cursor's own 256-second block, one slot per second; level 1
// holds the rest of the cursor's 16384-second block, one slot per 256 seconds;
// and so on. Because the five levels use all 32 bits, every Uint32 deadline has
// a level: there is no overflow list, and nothing is ever re-examined just
// because it is far away. Deadlines after 2106-02-07 (2^32 - 1) are refused.
//
// Sweeping the cursor forward, the wheel never visits an empty second. It looks
// at the lowest level that holds anything (per-level occupancy counts make that
// O(levels)), finds the next occupied slot in it (a scan of at most 256 or 64
// heads), and jumps straight to the first second of that slot. On level 0 that
// second is a deadline: the slot fires. On a higher level the slot is cascaded:
// each entry is placed again relative to the new cursor and lands on a lower
// level, because its deadline now shares more high bits with the cursor. An
// entry therefore moves at most four times in its life, however far away it was,
// and a slot is never scanned entry by entry except to fire or move them all.
//
// Entries scheduled behind the cursor (deadline < cursor: a deadline in the past,
// or a re-arm from inside a callback) go to a separate late list, which always
// fires before the slot under the cursor. Late entries are the one exception to
// deadline order: they fire at the next opportunity, in no particular order among
// themselves. Every other entry fires in non-decreasing deadline order over the
// whole life of the wheel.
//
// Worked example (small numbers; real deadlines are ~1.8e9). The cursor is at
// 1000 = 3*256 + 232, so it is in level-0 block 3, level-1 block 0.
//
//   schedule(a, 1010)    1010 = 3*256 + 242: same 256-s block    -> level 0, slot 242
//   schedule(b, 1300)    1300 = 5*256 + 20: same 16384-s block   -> level 1, slot 5
//   schedule(c, 100000)  100000 = 6*16384 + ...: same 2^20 block -> level 2, slot 6
//
//   advance(1300):
//     level 0 is occupied: next slot 242 -> jump to 1010, fire a.
//     level 0 is empty; level 1: next slot 5 -> jump to 5*256 = 1280 and cascade:
//       1300 is now in the cursor's 256-s block                  -> level 0, slot 20
//     level 0: slot 20 -> jump to 1300, fire b. Cursor = target: done.
//   Seconds 1011..1279 and 1281..1299 were never looked at.
//
//   c waits on level 2 until the cursor reaches 6*16384 = 98304, cascades to
//   level 1 slot (100000 >>> 8) & 63 = 6, at 390*256 = 99840 cascades to level 0
//   slot 100000 - 99840 = 160, and fires at 100000.
//
// Storage
// -------
// Ids are dense slot numbers of the session table, so the entries live in
// parallel typed arrays indexed by id: the next and prev links of an intrusive
// doubly-linked list per bucket, the bucket each id is in (-1 when not
// scheduled), and its deadline. That is 16 bytes per id, no object per entry
// and nothing for the GC to trace. The arrays double when an id beyond them is
// scheduled, so a steady state allocates nothing. Buckets are 256 + 4*64 = 512
// slot lists plus the late list.
//
// Separate columns rather than one interleaved 16-byte record per id: both were
// measured with 1 M random ids. Interleaving only helped rescheduling an entry
// that is already scheduled (2-3x), which lazy re-arming makes rare; schedule,
// cancel and firing were no faster. Firing is bound by walking the lists: each
// entry costs one dependent load of its `next`, a cache miss when ids are random.
//
// Ownership contract
// ------------------
// One owner: the actor loop that created the wheel is the only code that calls
// it (docs/code-style.md rule 8). There is no locking and the wheel never reads a clock;
// the owner passes the time in. advance() is not re-entrant: calling it from
// inside onExpire throws. Inside onExpire the owner may schedule or cancel any
// id, including the one firing, which is already unscheduled when its callback
// runs. Entries that a callback schedules at or before the target second fire
// in the same advance() call if the budget allows, so a callback that always
// re-arms in the past loops until the budget runs out. If onExpire throws, the
// exception propagates; the firing entry is gone and everything else remains
// scheduled, so the owner can simply call advance() again.
//
// Bounded work per call
// ---------------------
// advance(now, budget) runs at most `budget` callbacks. With a finite budget it
// also moves at most cascadeBatchMax (default WHEEL_CASCADE_BATCH_MAX) entries
// down a level: a slot holding more is cascaded across several calls, the
// cursor waiting at the slot's first second meanwhile. Either limit ends the
// call with `false`, meaning "call again"; with a finite budget that answer can
// also come while nothing is yet due (a large far-off slot half moved), and
// nextDueHint() then asks for an immediate wake-up. `true` always means nothing
// due at `now` is left. An unlimited budget (Infinity) lifts both limits.
//
// Complexity
// ----------
// schedule, cancel, isScheduled, deadlineOf: O(1); growth is amortised O(1).
// advance: O(fired + moved) plus slot-head scans of at most 256 reads per
// level-0 block entered and 64 per upper slot, and a block is entered only
// when it holds an entry. Empty stretches of time cost nothing, so jumping two
// years with a million entries costs about as much as expiring them. An entry
// moves at most four times in its life, so cascading is amortised O(1) per
// entry; per call it is capped as above. bench/micro/time/timer-wheel.bench.ts
// measures both, and the longest single call.
// nextDueHint: O(levels + 256). Memory: 16 bytes per id of capacity, plus
// 513 list heads.

import { grownCapacity } from '../util/capacity.js';

const NIL = -1;
const BUCKET_NONE = -1;

// One second per tick: deadlines are whole seconds, as Keycloak's are.
export const WHEEL_TICK_S = 1;
export const WHEEL_LEVEL0_BITS = 8;
export const WHEEL_LEVEL0_SLOTS = 1 << WHEEL_LEVEL0_BITS;
export const WHEEL_LEVEL_UPPER_BITS = 6;
export const WHEEL_LEVEL_UPPER_SLOTS = 1 << WHEEL_LEVEL_UPPER_BITS;
export const WHEEL_LEVELS = 5;
// Deadlines are stored as Uint32; the levels together cover exactly this range.
export const WHEEL_DEADLINE_MAX_S = 2 ** 32 - 1;
// Links are Int32 with -1 as nil.
export const WHEEL_ENTRY_ID_MAX = 2 ** 31 - 2;
// Enough for a test or a small shard without growing; a shard sizes it to its table.
export const WHEEL_CAPACITY_DEFAULT = 1024;
// Entries one bounded advance() call may move down a level. A move costs about
// what a firing does, one dependent cache miss with random ids: 30-130 ns
// measured on a busy shared 2-core VM, so 16384 moves take 0.5-2 ms of CPU and
// a turn stays inside the 5 ms p99 target of docs/performance.md#targets even when one slot
// holds a million sessions (unbounded, that slot took 30-135 ms in one call).
export const WHEEL_CASCADE_BATCH_MAX = 16_384;

if (WHEEL_LEVEL0_BITS + (WHEEL_LEVELS - 1) * WHEEL_LEVEL_UPPER_BITS !== 32) {
  throw new Error('timer-wheel: the levels must cover exactly the 32 bits of a Uint32 deadline');
}
if (WHEEL_TICK_S !== 1) {
  throw new Error('timer-wheel: the bit layout assumes a one-second tick');
}

// Per level: bits of its digit, first bucket index, bit shift of the digit,
// digit mask, seconds per slot, and seconds per full turn of the level (which is
// one slot of the level above).
const LEVEL_BITS = Array.from({ length: WHEEL_LEVELS }, (_, level) =>
  level === 0 ? WHEEL_LEVEL0_BITS : WHEEL_LEVEL_UPPER_BITS,
);
const LEVEL_SHIFT = LEVEL_BITS.map((_, level) => sum(LEVEL_BITS.slice(0, level)));
const LEVEL_BUCKET_BASE = LEVEL_BITS.map((_, level) => sum(LEVEL_BITS.slice(0, level).map((bits) => 2 ** bits)));
const LEVEL_MASK = LEVEL_BITS.map((bits) => 2 ** bits - 1);
const LEVEL_SLOT_SPAN_S = LEVEL_SHIFT.map((shift) => 2 ** shift);
const LEVEL_TURN_SPAN_S = LEVEL_SHIFT.map((shift, level) => 2 ** (shift + LEVEL_BITS[level]));
const BUCKET_LATE = WHEEL_LEVEL0_SLOTS + (WHEEL_LEVELS - 1) * WHEEL_LEVEL_UPPER_SLOTS;
const BUCKET_COUNT = BUCKET_LATE + 1;
// The late list is counted as an extra "level" after the real ones.
const LEVEL_LATE = WHEEL_LEVELS;
const LEVEL0_MASK = WHEEL_LEVEL0_SLOTS - 1;

const BUCKET_LEVEL = new Uint8Array(BUCKET_COUNT);
for (let level = 0; level < WHEEL_LEVELS; level++) {
  BUCKET_LEVEL.fill(level, LEVEL_BUCKET_BASE[level], LEVEL_BUCKET_BASE[level] + LEVEL_MASK[level] + 1);
}
BUCKET_LEVEL[BUCKET_LATE] = LEVEL_LATE;

// Level of a deadline given Math.clz32(deadline ^ cursor): the highest differing
// bit picks the level; equal values (clz 32) belong on level 0.
const LEVEL_BY_CLZ = new Uint8Array(33);
for (let clz = 0; clz <= 32; clz++) {
  const bit = 31 - clz;
  let level = 0;
  while (level + 1 < WHEEL_LEVELS && bit >= LEVEL_SHIFT[level + 1]) level++;
  LEVEL_BY_CLZ[clz] = level;
}

export interface TimerWheelOptions {
  startSecond: number;
  initialCapacity?: number;
  // Tests set it tiny to exercise cascades that span several calls.
  cascadeBatchMax?: number;
}

export class TimerWheel {
  #capacity: number;
  #next: Int32Array;
  #prev: Int32Array;
  #bucket: Int32Array;
  #deadline: Uint32Array;
  readonly #head = new Int32Array(BUCKET_COUNT).fill(NIL);
  readonly #levelSize = new Int32Array(WHEEL_LEVELS + 1);
  #size = 0;
  // A lower bound on the late list's deadlines, for nextDueHint; only lowered
  // while the list is non-empty, reset when it empties.
  #lateMinS = Infinity;
  // The largest second the owner has advanced to: everything at or before it is due.
  #nowS: number;
  // How far the sweep has got; <= #nowS, behind it only while a budget ran out.
  // Placement is always relative to the cursor.
  #cursorS: number;
  // The upper-level slot being cascaded, NIL when none. A cascade that ran out
  // of allowance stays here, with the cursor at the slot's first second, and is
  // finished before anything else happens in the next advance().
  #cascadeBucket = NIL;
  readonly #cascadeBatchMax: number;
  #advancing = false;

  constructor(options: TimerWheelOptions) {
    const {
      startSecond,
      initialCapacity = WHEEL_CAPACITY_DEFAULT,
      cascadeBatchMax = WHEEL_CASCADE_BATCH_MAX,
    } = options;
    assertSecond('startSecond', startSecond);
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1 || initialCapacity > WHEEL_ENTRY_ID_MAX + 1) {
      throw new RangeError(
        `TimerWheel: initialCapacity must be an integer in [1, ${WHEEL_ENTRY_ID_MAX + 1}], got ${initialCapacity}`,
      );
    }
    if (!Number.isInteger(cascadeBatchMax) || cascadeBatchMax < 1) {
      throw new RangeError(`TimerWheel: cascadeBatchMax must be a positive integer, got ${cascadeBatchMax}`);
    }
    this.#cascadeBatchMax = cascadeBatchMax;
    this.#capacity = initialCapacity;
    this.#next = new Int32Array(initialCapacity);
    this.#prev = new Int32Array(initialCapacity);
    this.#bucket = new Int32Array(initialCapacity).fill(BUCKET_NONE);
    this.#deadline = new Uint32Array(initialCapacity);
    this.#nowS = startSecond;
    this.#cursorS = startSecond;
  }

  get size(): number {
    return this.#size;
  }

  get currentSecond(): number {
    return this.#nowS;
  }

  schedule(id: number, deadlineSecond: number): void {
    assertId(id);
    assertSecond('deadlineSecond', deadlineSecond);
    if (id >= this.#capacity) this.#grow(id + 1);
    if (this.#bucket[id] === BUCKET_NONE) {
      this.#size++;
    } else {
      this.#unlink(id);
    }
    this.#deadline[id] = deadlineSecond;
    this.#link(id, this.#bucketFor(deadlineSecond));
  }

  cancel(id: number): boolean {
    assertId(id);
    if (id >= this.#capacity || this.#bucket[id] === BUCKET_NONE) return false;
    this.#unlink(id);
    this.#size--;
    return true;
  }

  isScheduled(id: number): boolean {
    assertId(id);
    return id < this.#capacity && this.#bucket[id] !== BUCKET_NONE;
  }

  deadlineOf(id: number): number {
    assertId(id);
    if (id >= this.#capacity || this.#bucket[id] === BUCKET_NONE) return -1;
    return this.#deadline[id];
  }

  advance(nowSecond: number, budget: number, onExpire: (id: number, deadlineSecond: number) => void): boolean {
    assertSecond('nowSecond', nowSecond);
    if (!(budget >= 0) || !(Number.isInteger(budget) || budget === Infinity)) {
      throw new RangeError(`TimerWheel.advance: budget must be a non-negative integer or Infinity, got ${budget}`);
    }
    if (this.#advancing) {
      throw new Error('TimerWheel.advance is not re-entrant: it was called from inside onExpire');
    }
    this.#advancing = true;
    try {
      if (nowSecond > this.#nowS) this.#nowS = nowSecond;
      const targetS = this.#nowS;
      const head = this.#head;
      let fired = 0;
      // A finite budget asks for a bounded call, so cascading is bounded too;
      // an unlimited one asks for everything due, whatever it costs.
      let movesLeft = budget === Infinity ? Infinity : this.#cascadeBatchMax;
      for (;;) {
        if (this.#cascadeBucket !== NIL) {
          movesLeft = this.#cascade(movesLeft);
          if (this.#cascadeBucket !== NIL) return false;
        }
        // Late entries first: their deadlines are below the cursor, so firing
        // them before the cursor's slot keeps everything else in order.
        let id = head[BUCKET_LATE];
        if (id === NIL) id = head[this.#cursorS & LEVEL0_MASK];
        if (id !== NIL) {
          if (fired >= budget) return false;
          // Read after any growth a previous callback may have caused.
          const deadlineS = this.#deadline[id];
          this.#unlink(id);
          this.#size--;
          fired++;
          onExpire(id, deadlineS);
          continue;
        }
        if (!this.#sweepTo(targetS)) return true;
      }
    } finally {
      this.#advancing = false;
    }
  }

  nextDueHint(): number {
    if (this.#size === 0) return -1;
    if (this.#levelSize[LEVEL_LATE] > 0) return this.#lateMinS;
    const cursorS = this.#cursorS;
    // Part of a slot is still waiting to move down; it may hold the cursor's second.
    if (this.#cascadeBucket !== NIL) return cursorS;
    if (this.#head[cursorS & LEVEL0_MASK] !== NIL) return cursorS;
    for (let level = 0; level < WHEEL_LEVELS; level++) {
      if (this.#levelSize[level] === 0) continue;
      return slotStartS(cursorS, level, this.#nextOccupiedSlot(level, cursorS));
    }
    throw new Error('TimerWheel invariant: size > 0 but every level is empty');
  }

  clear(): void {
    this.#bucket.fill(BUCKET_NONE);
    this.#head.fill(NIL);
    this.#levelSize.fill(0);
    this.#size = 0;
    this.#lateMinS = Infinity;
    this.#cascadeBucket = NIL;
    // Nothing is left to sweep, so the cursor may catch up with the wheel's time.
    this.#cursorS = this.#nowS;
  }

  // Moves the cursor to the next point where something happens, at most to
  // targetS, and on an upper level marks the slot there for cascading. Returns
  // false when it reached targetS with nothing left to do (the caller has
  // already emptied the late list and the cursor's slot, and no cascade is pending).
  #sweepTo(targetS: number): boolean {
    const cursorS = this.#cursorS;
    if (cursorS >= targetS) return false;
    // The lowest occupied level holds the earliest entries: everything on level
    // L lies in the cursor's current level-(L+1) slot, before anything above.
    for (let level = 0; level < WHEEL_LEVELS; level++) {
      if (this.#levelSize[level] === 0) continue;
      const slot = this.#nextOccupiedSlot(level, cursorS);
      const startS = slotStartS(cursorS, level, slot);
      if (startS > targetS) {
        // The target lies before every entry and in the same slots above
        // `level` as the cursor, so no entry's placement changes.
        this.#cursorS = targetS;
        return false;
      }
      this.#cursorS = startS;
      if (level > 0) this.#cascadeBucket = LEVEL_BUCKET_BASE[level] + slot;
      return true;
    }
    this.#cursorS = targetS;
    return false;
  }

  // Moves up to movesLeft entries from the front of the pending slot to their
  // place relative to the cursor, which is at the slot's first second, so each
  // lands on a strictly lower level. The slot cannot gain entries meanwhile: a
  // deadline inside it shares that level's digit with the cursor and is placed
  // lower. Returns the allowance left; clears the pending slot once it is empty.
  #cascade(movesLeft: number): number {
    const bucket = this.#cascadeBucket;
    const fromLevel = BUCKET_LEVEL[bucket];
    const head = this.#head;
    const next = this.#next;
    const prev = this.#prev;
    const bucketOf = this.#bucket;
    const deadline = this.#deadline;
    const levelSize = this.#levelSize;
    let id = head[bucket];
    let moved = 0;
    while (id !== NIL && moved < movesLeft) {
      const following = next[id];
      const target = this.#bucketFor(deadline[id]);
      if (BUCKET_LEVEL[target] >= fromLevel) {
        throw new Error(
          `TimerWheel invariant: cascade from level ${fromLevel} placed id ${id} on level ${BUCKET_LEVEL[target]}`,
        );
      }
      const first = head[target];
      next[id] = first;
      prev[id] = NIL;
      if (first !== NIL) prev[first] = id;
      head[target] = id;
      bucketOf[id] = target;
      levelSize[BUCKET_LEVEL[target]]++;
      moved++;
      id = following;
    }
    head[bucket] = id;
    if (id === NIL) this.#cascadeBucket = NIL;
    else prev[id] = NIL;
    levelSize[fromLevel] -= moved;
    return movesLeft - moved;
  }

  #bucketFor(deadlineS: number): number {
    const cursorS = this.#cursorS;
    if (deadlineS < cursorS) return BUCKET_LATE;
    const level = LEVEL_BY_CLZ[Math.clz32(deadlineS ^ cursorS)];
    return LEVEL_BUCKET_BASE[level] + ((deadlineS >>> LEVEL_SHIFT[level]) & LEVEL_MASK[level]);
  }

  // The first occupied slot after the cursor's own digit on this level. On
  // level 0 the caller has checked the cursor's slot; on higher levels the
  // cursor's slot was cascaded on arrival (callers skip this while a cascade
  // is still pending).
  #nextOccupiedSlot(level: number, cursorS: number): number {
    const base = LEVEL_BUCKET_BASE[level];
    const mask = LEVEL_MASK[level];
    const head = this.#head;
    for (let slot = ((cursorS >>> LEVEL_SHIFT[level]) & mask) + 1; slot <= mask; slot++) {
      if (head[base + slot] !== NIL) return slot;
    }
    throw new Error(`TimerWheel invariant: level ${level} is counted occupied but has no slot after the cursor`);
  }

  #link(id: number, bucket: number): void {
    const head = this.#head;
    const first = head[bucket];
    this.#next[id] = first;
    this.#prev[id] = NIL;
    if (first !== NIL) this.#prev[first] = id;
    head[bucket] = id;
    this.#bucket[id] = bucket;
    this.#levelSize[BUCKET_LEVEL[bucket]]++;
    if (bucket === BUCKET_LATE && this.#deadline[id] < this.#lateMinS) this.#lateMinS = this.#deadline[id];
  }

  #unlink(id: number): void {
    const bucket = this.#bucket[id];
    const following = this.#next[id];
    const preceding = this.#prev[id];
    if (preceding === NIL) this.#head[bucket] = following;
    else this.#next[preceding] = following;
    if (following !== NIL) this.#prev[following] = preceding;
    this.#bucket[id] = BUCKET_NONE;
    this.#levelSize[BUCKET_LEVEL[bucket]]--;
    if (bucket === BUCKET_LATE && this.#head[BUCKET_LATE] === NIL) this.#lateMinS = Infinity;
  }

  #grow(minCapacity: number): void {
    const capacity = Math.min(grownCapacity(this.#capacity, minCapacity), WHEEL_ENTRY_ID_MAX + 1);
    const next = new Int32Array(capacity);
    const prev = new Int32Array(capacity);
    const bucket = new Int32Array(capacity);
    const deadline = new Uint32Array(capacity);
    next.set(this.#next);
    prev.set(this.#prev);
    bucket.set(this.#bucket);
    bucket.fill(BUCKET_NONE, this.#capacity);
    deadline.set(this.#deadline);
    this.#next = next;
    this.#prev = prev;
    this.#bucket = bucket;
    this.#deadline = deadline;
    this.#capacity = capacity;
  }
}

// First second of `slot` on `level`, in the cursor's current turn of that level.
function slotStartS(cursorS: number, level: number, slot: number): number {
  return cursorS - (cursorS % LEVEL_TURN_SPAN_S[level]) + slot * LEVEL_SLOT_SPAN_S[level];
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function assertId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > WHEEL_ENTRY_ID_MAX) {
    throw new RangeError(`TimerWheel: id must be an integer in [0, ${WHEEL_ENTRY_ID_MAX}], got ${id}`);
  }
}

function assertSecond(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > WHEEL_DEADLINE_MAX_S) {
    throw new RangeError(
      `TimerWheel: ${name} must be an integer epoch second in [0, ${WHEEL_DEADLINE_MAX_S}], got ${value}`,
    );
  }
}
