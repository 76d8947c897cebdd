// engine-actors: session ops through the real shard workers, against a raw
// postMessage echo of the same batches (docs/performance.md#targets: >= 0.7x).
//
// `actor_ops_per_s` (the contract metric, "2 workers, batched"): every shard
// has WINDOW_BATCHES calls of engine.touchMany() with BATCH_COMMANDS_MAX ids
// outstanding — the batched API, one promise per batch, as the echo has one
// message per batch. `actor_single_ops_per_s` (extra row) is the per-command
// API: WINDOW_BATCHES x BATCH_COMMANDS_MAX engine.touch() calls outstanding.
// When a reply resolves a batch's promises, their continuations issue the next
// touches in the same turn, so the channel's batching (send at 256, or at
// setImmediate) forms full batches by itself; the bench counts the frames
// posted to the workers to report the batch size it really got.
//
// Baseline: 2 echo workers (bench/fixtures/echo-worker.ts) and the same
// number of batches in flight, each built from the same command objects,
// packed with encodeFrame, unpacked by the worker, echoed back and unpacked
// again. The engine does more by design (a promise per command, routing, the
// touch itself, a reply frame); the ratio is what that costs.
//
// The two run in alternating segments so that noise on a shared machine hits
// both.

import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { BATCH_COMMANDS_MAX } from '../../src/constants.js';
import { Engine } from '../../src/host/engine.js';
import type { BatchMessage, Command } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { decodeFrame, encodeFrame } from '../../src/protocol/codec.js';
import { partitionOfSessionId, shardOfPartition } from '../../src/protocol/partition.js';
import { ManualClock } from '../../src/time/clock.js';
import { flatUuid, ipOf, username } from '../lib/data.js';
import { row, type Scenario } from '../lib/scenario.js';

const NAME = 'engine-actors';
const SHARDS = 2;
const SESSIONS_FULL = 100_000;
const SESSIONS_QUICK = 20_000;
const DURATION_FULL_S = 10;
const DURATION_QUICK_S = 3;
/** Segments per side: full runs alternate actor/echo twice, quick once. */
const SEGMENTS_FULL = 2;
const SEGMENTS_QUICK = 1;
/** Batches in flight per shard (docs/performance.md#messages-between-threads measured 4 per worker). */
const WINDOW_BATCHES = 4;
const WARMUP_S = 0.5;
/** Creations in flight while filling the engine. */
const CREATE_CONCURRENCY = 4096;
const START_SECOND = 1_800_000_000;
const REALM = 'bench';
const CLIENT = 'c-1';

interface Segment {
  /** Completed before the deadline: what the rate counts. */
  ops: number;
  seconds: number;
  /** Commands sent, including those still in flight at the deadline. */
  issued: number;
}

/** Counts frames posted to any worker: how the channel really batched. */
function countFrames(): { frames: () => number; reset: () => void; restore: () => void } {
  const original = Worker.prototype.postMessage;
  let frames = 0;
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
    frames++;
    return original.apply(this, args);
  };
  return {
    frames: () => frames,
    reset: () => {
      frames = 0;
    },
    restore: () => {
      Worker.prototype.postMessage = original;
    },
  };
}

/** Keeps `batches` touchMany() calls of `batchSize` ids per shard outstanding for `seconds`. */
function driveEngineBatched(engine: Engine, idsByShard: readonly string[][], batchSize: number, batches: number, seconds: number): Promise<Segment> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let ops = 0;
    let stopped = false;
    let outstanding = 0;
    let end = 0;
    let issued = 0;
    const cursors = idsByShard.map(() => 0);
    const handlers = idsByShard.map((_, shard) => (touched: boolean[]): void => {
      outstanding--;
      if (touched.some((t) => !t)) {
        reject(new Error(`a touch of a live session on shard ${shard} answered false`));
        return;
      }
      if (!stopped) {
        ops += touched.length;
        if (performance.now() >= deadline) {
          stopped = true;
          end = performance.now();
        } else {
          issue(shard);
        }
      }
      if (stopped && outstanding === 0) resolve({ ops, seconds: (end - start) / 1000, issued });
    });
    const issue = (shard: number): void => {
      const ids = idsByShard[shard]!;
      let cursor = cursors[shard]!;
      const batch: string[] = [];
      for (let i = 0; i < batchSize; i++) {
        batch.push(ids[cursor]!);
        cursor = cursor + 1 === ids.length ? 0 : cursor + 1;
      }
      cursors[shard] = cursor;
      outstanding++;
      issued += batchSize;
      engine.touchMany(batch).then(handlers[shard], reject);
    };
    for (let shard = 0; shard < idsByShard.length; shard++) for (let i = 0; i < batches; i++) issue(shard);
  });
}

/** Keeps `window` touches per shard outstanding for `seconds`; counts those completed in time. */
function driveEngine(engine: Engine, idsByShard: readonly string[][], window: number, seconds: number): Promise<Segment> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let ops = 0;
    let stopped = false;
    let outstanding = 0;
    let end = 0;
    let issued = 0;
    const cursors = idsByShard.map(() => 0);
    // One completion handler per shard, made once: the driver itself should
    // allocate nothing per op, so that the ratio charges the engine only.
    const handlers = idsByShard.map((_, shard) => (touched: boolean): void => {
      outstanding--;
      if (!touched) {
        reject(new Error(`a touch of a live session on shard ${shard} answered false`));
        return;
      }
      if (!stopped) {
        ops++;
        // The clock is read once per 256 completions (~one batch): cheap, and precise enough over seconds.
        if ((ops & 255) === 0 && performance.now() >= deadline) {
          stopped = true;
          end = performance.now();
        } else {
          issue(shard);
        }
      }
      if (stopped && outstanding === 0) resolve({ ops, seconds: (end - start) / 1000, issued });
    });
    const issue = (shard: number): void => {
      const ids = idsByShard[shard]!;
      const cursor = cursors[shard]!;
      cursors[shard] = cursor + 1 === ids.length ? 0 : cursor + 1;
      outstanding++;
      issued++;
      engine.touch(ids[cursor]!).then(handlers[shard], reject);
    };
    for (let shard = 0; shard < idsByShard.length; shard++) for (let i = 0; i < window; i++) issue(shard);
  });
}

/** The baseline: `batchesInFlight` batches of `batchSize` touch commands per echo worker. */
function driveEcho(
  workers: readonly Worker[],
  idsByShard: readonly string[][],
  batchSize: number,
  batchesInFlight: number,
  seconds: number,
): Promise<Segment> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let ops = 0;
    let stopped = false;
    let outstanding = 0;
    let end = 0;
    let batchId = 1;
    let issued = 0;
    const cursors = idsByShard.map(() => 0);
    const send = (shard: number): void => {
      const ids = idsByShard[shard]!;
      const commands: Command[] = [];
      let cursor = cursors[shard]!;
      for (let i = 0; i < batchSize; i++) {
        commands.push({ op: OP.sessionTouch, id: ids[cursor]!, now: START_SECOND });
        cursor = cursor + 1 === ids.length ? 0 : cursor + 1;
      }
      cursors[shard] = cursor;
      issued += batchSize;
      const frame = encodeFrame({ kind: 'batch', id: batchId++, commands } satisfies BatchMessage);
      outstanding++;
      workers[shard]!.postMessage(frame);
    };
    const listeners = workers.map((worker, shard) => {
      const onMessage = (frame: Uint8Array): void => {
        outstanding--;
        const batch = decodeFrame<BatchMessage>(frame);
        if (!stopped) {
          ops += batch.commands.length;
          if (performance.now() >= deadline) {
            stopped = true;
            end = performance.now();
          } else {
            send(shard);
          }
        }
        if (stopped && outstanding === 0) {
          workers.forEach((w, i) => w.off('message', listeners[i]!));
          resolve({ ops, seconds: (end - start) / 1000, issued });
        }
      };
      worker.on('message', onMessage);
      worker.on('error', reject);
      return onMessage;
    });
    for (let shard = 0; shard < workers.length; shard++) for (let i = 0; i < batchesInFlight; i++) send(shard);
  });
}

function rate(segments: readonly Segment[]): number {
  const ops = segments.reduce((a, s) => a + s.ops, 0);
  const seconds = segments.reduce((a, s) => a + s.seconds, 0);
  return ops / seconds;
}

export const engineActors: Scenario = {
  name: NAME,
  description: 'touches through 2 shard workers (batched touchMany, and per-command touch) vs a raw msgpackr postMessage echo of the same batches',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const duration = quick ? DURATION_QUICK_S : DURATION_FULL_S;
    const segments = quick ? SEGMENTS_QUICK : SEGMENTS_FULL;
    const window = WINDOW_BATCHES * BATCH_COMMANDS_MAX;

    const frames = countFrames();
    const clock = new ManualClock(START_SECOND);
    const engine = await Engine.start({ shards: SHARDS, clock, clockMode: 'manual' });
    const workers: Worker[] = [];
    try {
      await engine.putRealm(REALM, {});
      await engine.putClient(REALM, CLIENT, {});
      log(`creating ${n.toLocaleString('en-US')} sessions`);
      const idsByShard: string[][] = Array.from({ length: SHARDS }, () => []);
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < n) {
          const i = next++;
          const { session } = await engine.createSession({
            realm: REALM,
            userId: flatUuid(),
            username: username(i),
            ip: ipOf(i),
            client: { client: CLIENT, scope: 'openid' },
          });
          idsByShard[shardOfPartition(partitionOfSessionId(session.id), SHARDS)]!.push(session.id);
        }
      };
      await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, lane));
      log(`sessions per shard: ${idsByShard.map((ids) => ids.length).join(', ')}`);

      const echoUrl = new URL('../fixtures/echo-worker.js', import.meta.url);
      for (let i = 0; i < SHARDS; i++) workers.push(new Worker(echoUrl));
      await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));

      await driveEngineBatched(engine, idsByShard, BATCH_COMMANDS_MAX, WINDOW_BATCHES, WARMUP_S);
      await driveEngine(engine, idsByShard, window, WARMUP_S);
      await driveEcho(workers, idsByShard, BATCH_COMMANDS_MAX, WINDOW_BATCHES, WARMUP_S);

      const batched: Segment[] = [];
      const single: Segment[] = [];
      const echo: Segment[] = [];
      let actorFrames = 0;
      let actorIssued = 0;
      const third = duration / segments / 2;
      for (let s = 0; s < segments; s++) {
        frames.reset();
        const b = await driveEngineBatched(engine, idsByShard, BATCH_COMMANDS_MAX, WINDOW_BATCHES, third);
        batched.push(b);
        const a = await driveEngine(engine, idsByShard, window, third);
        actorFrames += frames.frames();
        actorIssued += a.issued + b.issued;
        single.push(a);
        const e = await driveEcho(workers, idsByShard, BATCH_COMMANDS_MAX, WINDOW_BATCHES, third * 2);
        echo.push(e);
        log(
          `segment ${s + 1}/${segments}: batched ${(b.ops / b.seconds / 1e3).toFixed(0)}k ops/s, ` +
            `per-command ${(a.ops / a.seconds / 1e3).toFixed(0)}k ops/s, echo ${(e.ops / e.seconds / 1e3).toFixed(0)}k ops/s`,
        );
      }
      log(
        `actor batches: ${actorFrames.toLocaleString('en-US')} frames for ${actorIssued.toLocaleString('en-US')} touches, ` +
          `${(actorIssued / actorFrames).toFixed(1)} commands per batch on average (echo: ${BATCH_COMMANDS_MAX})`,
      );
      const echoRate = rate(echo);
      return [
        row(NAME, 'actor_ops_per_s', rate(batched), 'ops/s', echoRate),
        row(NAME, 'actor_single_ops_per_s', rate(single), 'ops/s', echoRate),
      ];
    } finally {
      frames.restore();
      await Promise.all(workers.map((w) => w.terminate()));
      await engine.close();
    }
  },
};
