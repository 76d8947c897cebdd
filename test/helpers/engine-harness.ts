// Shared set-up for tests that run a real Engine (two worker threads) in
// virtual time: a ManualClock in 'manual' clock mode, so expiry happens only
// when a test calls engine.advanceTime(). Every engine is closed in the
// test's teardown, so no worker thread outlives its test.

import type { ExecutionContext } from 'ava';
import { EngineError } from '../../src/errors.js';
import { Engine, type EngineOptions } from '../../src/host/engine.js';
import type { ExpiredNotice, PresentedToken, ShardMessage } from '../../src/protocol/actor-messages.js';
import { partitionOf, shardOfPartition } from '../../src/protocol/partition.js';
import { ManualClock } from '../../src/time/clock.js';

/** 2027-01-15: an arbitrary, fixed epoch second. */
export const START_S = 1_800_000_000;

export interface Harness {
  engine: Engine;
  clock: ManualClock;
  /** Every expiry notice the engine emitted, in order. */
  expired: ExpiredNotice[];
  /** Moves the clock by `seconds` and lets every shard fire what became due. */
  advance(seconds: number): Promise<void>;
}

/**
 * Engines alive at once in one test process. ava runs a file's tests
 * concurrently; unbounded, a file of 40 engine tests would start 80 worker
 * threads at once and starve a 2-core machine into command timeouts.
 */
const ENGINES_CONCURRENT_MAX = 4;
let enginesRunning = 0;
const engineWaiters: (() => void)[] = [];

async function acquireEngineSlot(): Promise<void> {
  if (enginesRunning < ENGINES_CONCURRENT_MAX) {
    enginesRunning++;
    return;
  }
  await new Promise<void>((resolve) => engineWaiters.push(resolve));
}

function releaseEngineSlot(): void {
  const next = engineWaiters.shift();
  if (next !== undefined) next();
  else enginesRunning--;
}

export async function startEngine(
  t: ExecutionContext,
  options: Partial<EngineOptions> & { listenExpired?: boolean } = {},
): Promise<Harness> {
  const clock = new ManualClock(START_S);
  const { listenExpired = true, ...rest } = options;
  await acquireEngineSlot();
  let engine: Engine;
  try {
    engine = await Engine.start({ shards: 2, clock, clockMode: 'manual', ...rest });
  } catch (err) {
    releaseEngineSlot();
    throw err;
  }
  t.teardown(async () => {
    await engine.close();
    releaseEngineSlot();
  });
  const expired: ExpiredNotice[] = [];
  if (listenExpired) engine.on('expired', (notice: ExpiredNotice) => expired.push(notice));
  return {
    engine,
    clock,
    expired,
    async advance(seconds: number): Promise<void> {
      clock.advance(seconds);
      await engine.advanceTime(clock.nowSeconds());
    },
  };
}

/** The first user id `${prefix}N` whose partition lands on `shard` of `shardCount`. */
export function userOnShard(realm: string, shard: number, prefix = 'user-', shardCount = 2): string {
  for (let i = 0; ; i++) {
    const userId = `${prefix}${i}`;
    if (shardOfPartition(partitionOf(realm, userId), shardCount) === shard) return userId;
  }
}

/** A presented refresh token. */
export function token(jti: string, iat: number, reuseId = ''): PresentedToken {
  return { jti, iat, reuseId };
}

/** Runs `fn` and returns the EngineError code it rejected with (fails the test if it resolved). */
export async function codeOf(t: ExecutionContext, fn: () => Promise<unknown>): Promise<string | undefined> {
  const err = await t.throwsAsync(fn);
  t.truthy(err, 'expected a rejection');
  return (err as EngineError | undefined)?.code;
}

/**
 * Waits (bounded) until `condition` holds. Only for asynchronous worker
 * restarts, whose timing is the OS scheduler's; expiry never uses this.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A shard's frame as the messages it carries (a bundle holds several, in order). */
export function unbundled(message: ShardMessage): ShardMessage[] {
  return message.kind === 'bundle' ? message.messages : [message];
}
