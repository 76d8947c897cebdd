// The StaticPool task file: one per pool thread, loaded from its compiled
// path (dist/src/crypto/pbkdf2-task.js) by PasswordHasher. It only wires the
// port to pbkdf2Sync and to the argon2 package; all validation happens on the main thread before a
// request is sent, so anything that still fails here is a bug or a resource
// problem, answered with a fixed message (never the input: it holds a password).
//
// pbkdf2Sync, not the async crypto.pbkdf2: this thread exists to do the hash,
// so blocking it is the point, and the async form would hand the work on to
// libuv's shared 4-thread pool (also used by fs and dns) from here.
//
// The thread runs HASH_THREAD_NICE steps nicer than the process: with real
// hash costs (~100 ms a PBKDF2 hash) a burst of logins keeps every core busy,
// and at the same priority the event loop waited for a core like any hash,
// every refresh and introspection behind it. Niced, the hashes take what the
// event loop leaves and any idle core, so logins run as fast as before when
// nothing else wants the CPU. Linux sets one thread's niceness with
// setpriority on its thread id, which /proc/thread-self names; elsewhere
// nothing is changed (the same call would renice the whole process). argon2
// hashes run on libuv's pool, whose threads are shared and keep the process's
// priority.

import { pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { hash as argon2Hash } from 'argon2';
import { ARGON2_TYPE_IDS, ARGON2_VERSION_IDS, type Argon2Params } from './argon2-params.js';
import { javaPasswordBytes } from './java-utf8.js';
import { HASH_THREAD_NICE, NICE_MAX, type Pbkdf2Request, type Pbkdf2Response } from './pbkdf2-protocol.js';

/**
 * argon2 over the password's UTF-8 bytes, as BouncyCastle's default
 * converter feeds them. The package runs the hash on libuv's pool and this
 * thread waits for it, so the hashing pool still bounds the hashes in flight.
 */
function argon2Derive(password: string, salt: Uint8Array, iterations: number, params: Argon2Params): Promise<Buffer> {
  return argon2Hash(Buffer.from(password, 'utf8'), {
    raw: true,
    salt: Buffer.from(salt),
    type: ARGON2_TYPE_IDS[params.type],
    version: ARGON2_VERSION_IDS[params.version],
    timeCost: iterations,
    memoryCost: params.memory,
    parallelism: params.parallelism,
    hashLength: params.hashLength,
  });
}

async function answer(request: Pbkdf2Request): Promise<Pbkdf2Response> {
  switch (request.op) {
    case 'ping':
      return { ok: true, op: 'ping' };
    case 'derive': {
      const key = pbkdf2Sync(javaPasswordBytes(request.password), request.salt, request.iterations, request.keyBytes, request.digest);
      return { ok: true, op: 'derive', key };
    }
    case 'verify': {
      const expected = request.expected;
      const key = pbkdf2Sync(javaPasswordBytes(request.password), request.salt, request.iterations, expected.length, request.digest);
      return { ok: true, op: 'verify', match: timingSafeEqual(key, expected) };
    }
    case 'argon2-derive':
      return { ok: true, op: 'derive', key: await argon2Derive(request.password, request.salt, request.iterations, request.params) };
    case 'argon2-verify': {
      const key = await argon2Derive(request.password, request.salt, request.iterations, request.params);
      // A stored hash of another length than its hashLength says can never match (as Keycloak's byte comparison).
      const match = key.length === request.expected.length && timingSafeEqual(key, request.expected);
      return { ok: true, op: 'verify', match };
    }
    default:
      return { ok: false, error: 'unknown pbkdf2 pool request' };
  }
}

/** This thread's id on Linux ("<pid>/task/<tid>"), or null where /proc/thread-self does not exist. */
function linuxThreadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/** Lowers this thread's priority (see the header); a refusal only costs latency, so it is a warning. */
function yieldToEventLoop(): void {
  const tid = linuxThreadId();
  if (tid === null) return;
  try {
    // The thread starts with the process's niceness; a server already niced by its operator stays below it.
    setPriority(tid, Math.min(NICE_MAX, getPriority(tid) + HASH_THREAD_NICE));
  } catch (err) {
    process.emitWarning(`password hashing thread keeps its priority: ${(err as Error).message}`);
  }
}

const port = parentPort;
if (port === null) throw new Error('pbkdf2-task.js must run in a worker thread');
yieldToEventLoop();

port.on('message', (request: Pbkdf2Request) => {
  answer(request).then(
    (response) => port.postMessage(response),
    (err: unknown) => {
      // Node's pbkdf2 errors name the argument, never its value; keep only the code. argon2's name the parameter.
      const code = (err as { code?: unknown }).code;
      const what = request.op.startsWith('argon2') ? 'argon2' : 'pbkdf2';
      port.postMessage({ ok: false, error: `${what} failed${typeof code === 'string' ? ` (${code})` : ''}` } satisfies Pbkdf2Response);
    },
  );
});
