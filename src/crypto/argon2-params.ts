// Keycloak's argon2 password hashes (Argon2PasswordHashProvider, the default
// outside FIPS mode since Keycloak 25), as data.
//
// What Keycloak stores. The same CredentialModel as for PBKDF2 (see
// password-hasher.ts), with algorithm "argon2", hashIterations = Argon2's
// time cost, and the other parameters in credentialData.additionalParameters,
// a multi-valued map of strings:
//
//   {"hashIterations":5,"algorithm":"argon2","additionalParameters":{
//     "hashLength":["32"],"memory":["7168"],"type":["id"],"version":["1.3"],"parallelism":["1"]}}
//
// memory is in KiB; type is `id`, `i` or `d`; version `1.3` (0x13) or `1.0`
// (0x10). secretData is {"value": base64(hash), "salt": base64(16-byte salt)}.
// Keycloak derives with BouncyCastle's Argon2BytesGenerator over the
// password's UTF-8 bytes, no secret and no associated data; sessiond derives
// with the npm `argon2` package (the reference C implementation) with the same
// inputs, on the hashing pool's threads, and compares the bytes in constant time.
//
// Defaults (Argon2Parameters): argon2id 1.3, 32-byte hash, 7168 KiB,
// parallelism 1, 5 iterations. Keycloak's policyCheck re-hashes after a login
// when any of those (or the policy's hashIterations) differ.

import { CredentialFormatError } from './keycloak-credential.js';

export const ARGON2_ALGORITHM = 'argon2';

export type Argon2Type = 'id' | 'i' | 'd';
export type Argon2Version = '1.3' | '1.0';

export interface Argon2Params {
  type: Argon2Type;
  version: Argon2Version;
  hashLength: number;
  /** KiB. */
  memory: number;
  parallelism: number;
}

export const ARGON2_DEFAULT_PARAMS: Readonly<Argon2Params> = Object.freeze({ type: 'id', version: '1.3', hashLength: 32, memory: 7168, parallelism: 1 });
export const ARGON2_DEFAULT_ITERATIONS = 5;
/** Bytes of salt in a new hash (Argon2PasswordHashProvider: 16, as PBKDF2). */
export const ARGON2_SALT_BYTES = 16;
/**
 * Memory per hash at most (KiB). Each hash in flight holds this much on a pool
 * thread: 1 GiB is 140 times Keycloak's default, so an imported credential
 * cannot make one login take the machine's memory.
 */
export const ARGON2_MEMORY_KIB_MAX = 1_048_576;
/** Argon2's own bounds: lanes 1 to 2^24-1, hash 4 bytes to 2^32-1 (kept to 1 KiB: Keycloak writes 32). */
export const ARGON2_PARALLELISM_MAX = 255;
export const ARGON2_HASH_LENGTH_MIN = 4;
export const ARGON2_HASH_LENGTH_MAX = 1024;
/** Time cost at most: 1000 passes over 7 MiB is already seconds of CPU per login. */
export const ARGON2_ITERATIONS_MAX = 1000;

/** The argon2 package's numeric type ids (argon2d = 0, argon2i = 1, argon2id = 2). */
export const ARGON2_TYPE_IDS: Readonly<Record<Argon2Type, 0 | 1 | 2>> = Object.freeze({ d: 0, i: 1, id: 2 });
export const ARGON2_VERSION_IDS: Readonly<Record<Argon2Version, number>> = Object.freeze({ '1.3': 0x13, '1.0': 0x10 });

function first(params: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' && typeof text !== 'number') throw new CredentialFormatError(path, `additionalParameters.${key} must be a list of strings`);
  return String(text);
}

function integer(text: string | undefined, fallback: number, min: number, max: number, key: string, path: string): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new CredentialFormatError(path, `additionalParameters.${key} must be an integer`);
  const value = Number(text);
  if (value < min || value > max) throw new CredentialFormatError(path, `additionalParameters.${key} must be from ${min} to ${max}, got ${value}`);
  return value;
}

/** Reads credentialData.additionalParameters (missing members take Keycloak's defaults, as Argon2PasswordHashProvider does). */
export function argon2ParamsFromKeycloak(additional: unknown, path: string): Argon2Params {
  const params = typeof additional === 'object' && additional !== null && !Array.isArray(additional) ? (additional as Record<string, unknown>) : {};
  const type = first(params, 'type', path) ?? ARGON2_DEFAULT_PARAMS.type;
  if (type !== 'id' && type !== 'i' && type !== 'd') throw new CredentialFormatError(path, `additionalParameters.type must be id, i or d, got ${JSON.stringify(type)}`);
  const version = first(params, 'version', path) ?? ARGON2_DEFAULT_PARAMS.version;
  if (version !== '1.3' && version !== '1.0') throw new CredentialFormatError(path, `additionalParameters.version must be 1.3 or 1.0, got ${JSON.stringify(version)}`);
  return {
    type,
    version,
    hashLength: integer(first(params, 'hashLength', path), ARGON2_DEFAULT_PARAMS.hashLength, ARGON2_HASH_LENGTH_MIN, ARGON2_HASH_LENGTH_MAX, 'hashLength', path),
    memory: integer(first(params, 'memory', path), ARGON2_DEFAULT_PARAMS.memory, 8, ARGON2_MEMORY_KIB_MAX, 'memory', path),
    parallelism: integer(first(params, 'parallelism', path), ARGON2_DEFAULT_PARAMS.parallelism, 1, ARGON2_PARALLELISM_MAX, 'parallelism', path),
  };
}

/** The inverse, in Keycloak's member order. */
export function argon2ParamsToKeycloak(p: Argon2Params): Record<string, string[]> {
  return {
    hashLength: [String(p.hashLength)],
    memory: [String(p.memory)],
    type: [p.type],
    version: [p.version],
    parallelism: [String(p.parallelism)],
  };
}

export function sameArgon2Params(a: Argon2Params, b: Argon2Params): boolean {
  return a.type === b.type && a.version === b.version && a.hashLength === b.hashLength && a.memory === b.memory && a.parallelism === b.parallelism;
}
