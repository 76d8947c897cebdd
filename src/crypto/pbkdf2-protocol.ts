// The messages between PasswordHasher (main thread) and pbkdf2-task.ts (pool
// thread), for PBKDF2 and argon2 alike. One request per postMessage, one response back: StaticPool hands a
// thread the next request only after that thread has answered.
//
// The task never throws: a thrown error would kill the thread (the pool
// replaces it) and the message could carry input. It answers
// `{ ok: false, error }` with a fixed, secret-free description instead.

import type { Argon2Params } from './argon2-params.js';
import type { Pbkdf2Digest } from './pbkdf2-algorithms.js';

/**
 * Steps of niceness the hashing threads add to the process's (Linux, up to
 * the lowest priority, 19; elsewhere they keep the process's). pbkdf2-task.ts
 * sets it on its own thread; see there.
 */
export const HASH_THREAD_NICE = 10;
/** The lowest priority Linux has (the highest niceness). */
export const NICE_MAX = 19;

export interface Pbkdf2DeriveRequest {
  op: 'derive';
  password: string;
  salt: Uint8Array;
  iterations: number;
  keyBytes: number;
  digest: Pbkdf2Digest;
}

/** Derives as many bytes as `expected` holds and compares in constant time, on the pool thread. */
export interface Pbkdf2VerifyRequest {
  op: 'verify';
  password: string;
  salt: Uint8Array;
  iterations: number;
  expected: Uint8Array;
  digest: Pbkdf2Digest;
}

/** Answered at once: start() uses it to know the task file loads. */
export interface Pbkdf2PingRequest {
  op: 'ping';
}

/** An argon2 hash of `password` (answered as `derive`). */
export interface Argon2DeriveRequest {
  op: 'argon2-derive';
  password: string;
  salt: Uint8Array;
  iterations: number;
  params: Argon2Params;
}

/** Derives with the stored parameters and compares with `expected` in constant time (answered as `verify`). */
export interface Argon2VerifyRequest {
  op: 'argon2-verify';
  password: string;
  salt: Uint8Array;
  iterations: number;
  params: Argon2Params;
  expected: Uint8Array;
}

export type Pbkdf2Request = Pbkdf2DeriveRequest | Pbkdf2VerifyRequest | Pbkdf2PingRequest | Argon2DeriveRequest | Argon2VerifyRequest;

export type Pbkdf2Response =
  | { ok: true; op: 'derive'; key: Uint8Array }
  | { ok: true; op: 'verify'; match: boolean }
  | { ok: true; op: 'ping' }
  | { ok: false; error: string };
