// Password hashing as Keycloak does it, on a worker pool.
//
// What Keycloak stores. A password is a CredentialModel of type "password"
// whose secretData is {"value": base64(key), "salt": base64(salt)} and whose
// credentialData is {"hashIterations": n, "algorithm": id} (both JSON strings;
// keycloak-credential.ts reads and writes that form). For the PBKDF2 ids the
// provider (Pbkdf2PasswordHashProvider, Keycloak 24-26.x) computes
//
//   key = SecretKeyFactory("PBKDF2WithHmac" + SHA512|SHA256|SHA1)
//           .generateSecret(new PBEKeySpec(password.toCharArray(), salt, n, bits))
//
// with a fresh 16-byte SecureRandom salt, bits = 512 for pbkdf2-sha512 and
// pbkdf2 (SHA-1), 256 for pbkdf2-sha256, and standard padded base64
// (java.util.Base64). The JDK feeds the chars to HMAC as UTF-8, a lone
// surrogate becoming '?' (java-utf8.ts). The FIPS "max-padding-length" option
// appends '\0's to short passwords; an HMAC key is zero-padded to its block
// anyway, so the result is the same and sessiond ignores it.
//
// How it verifies. verify() re-derives with the credential's own algorithm,
// iteration count and salt, and with as many bytes as the stored value
// decodes to (keySize(credential)), so hashes made under any older policy or
// key size keep working. Keycloak compares the base64 strings; we compare the
// bytes with timingSafeEqual, on the pool thread.
//
// Policy and defaults. The realm policy string ("length(8) and
// hashIterations(27500) and hashAlgorithm(pbkdf2-sha256)") may name the
// algorithm and the iterations. Missing iterations (or -1) mean the
// provider's DEFAULT_ITERATIONS: 210,000 for pbkdf2-sha512, 600,000 for
// pbkdf2-sha256, 1,300,000 for pbkdf2 (the OWASP figures Keycloak 24 adopted;
// they were 30,000 / 27,500 / 20,000 before). A missing algorithm means the
// server's default provider, the supported one with the highest order():
// argon2 (300) > pbkdf2-sha512 (200) > pbkdf2-sha256 (100) > pbkdf2 (-100).
// Keycloak 24 had no argon2, so its default was pbkdf2-sha512; 25+ defaults
// to argon2 unless in FIPS mode. sessiond verifies and makes both families
// (argon2 in argon2-params.ts); its default stays pbkdf2-sha512 at 210,000
// (FIPS-compatible, and what the design chose), so a realm that wants
// argon2 for new hashes says hashAlgorithm(argon2); argon2 hashes imported
// from Keycloak 25+ verify either way. A policy naming an unknown algorithm is
// refused with a RangeError rather than silently hashed another way.
//
// Upgrade on login. After a successful check Keycloak asks the policy's
// provider policyCheck(policy, credential): same iteration count (the
// policy's, or the provider default), same algorithm id, same key size as the
// provider would make. If any differs it re-hashes the password just typed
// with the current policy, keeping the credential's id, createdDate and
// userLabel. needsRehash() is that test; the caller then calls hash() and
// copies those three fields over.
//
// Why a pool. One PBKDF2-SHA512 hash at 210,000 iterations is ~100 ms of CPU
// here (docs/performance.md#token-signing). On the event loop each login would stall every
// other request for that long. crypto.pbkdf2 (async) moves it to libuv's
// threadpool, which is shared with fs and dns and has 4 threads by default:
// on 2 cores that is 4 hashes fighting the event loop for 2 CPUs. A
// StaticPool (node-worker-threads-pool, the design card's choice) with one
// thread per core running pbkdf2Sync keeps at most one hash per core in
// flight, queues the rest in FIFO order on the main thread, and leaves the
// libuv pool to I/O. bench/scenarios/password.ts measures the pool against
// `pbkdf2Sync rate x pool size`; the pool-size choice and its figures are in
// the header of that file.

import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { StaticPool } from 'node-worker-threads-pool';
import { EngineError } from '../errors.js';
import type { PasswordCredential } from '../realm/model.js';
import {
  ARGON2_ALGORITHM,
  ARGON2_DEFAULT_ITERATIONS,
  ARGON2_DEFAULT_PARAMS,
  ARGON2_ITERATIONS_MAX,
  ARGON2_SALT_BYTES,
  sameArgon2Params,
  type Argon2Params,
} from './argon2-params.js';
import { supportedAlgorithmIds } from './hash-algorithms.js';
import { DEFAULT_PASSWORD_ALGORITHM, PBKDF2_ITERATIONS_MAX, PBKDF2_SALT_BYTES, pbkdf2Algorithm, type Pbkdf2AlgorithmSpec } from './pbkdf2-algorithms.js';
import type { Pbkdf2Request, Pbkdf2Response } from './pbkdf2-protocol.js';
import { CredentialFormatError, checkIterations, decodeKeycloakBase64 } from './keycloak-credential.js';

export {
  CredentialFormatError,
  credentialFromKeycloak,
  credentialToKeycloak,
  type KeycloakPasswordCredentialRepresentation,
} from './keycloak-credential.js';

/** The hashing part of a realm's Keycloak password policy, defaults filled in. */
export interface PasswordPolicy {
  algorithm: string;
  iterations: number;
}

export interface PasswordHasherOptions {
  /** Pool threads; default os.availableParallelism() (one per core, as measured). */
  size?: number;
  /** Clock for createdDate of new hashes; default Date.now. */
  nowMs?: () => number;
}

/** PBKDF2 is CPU-bound: threads beyond the cores only add memory (~10 MB each) and lag. */
export const PASSWORD_POOL_SIZE_MAX = 64;
/**
 * Hashes waiting or running at most. At ~10 hashes/s per core, 256 queued
 * logins already wait over 10 s on two cores: more would only time out.
 */
export const PASSWORD_QUEUE_MAX = 256;
/** A thread that cannot answer a ping in this long did not load its task file. */
const POOL_START_TIMEOUT_MS = 30_000;
const TASK_PATH = fileURLToPath(new URL('./pbkdf2-task.js', import.meta.url));

const POLICY_SEPARATOR = ' and ';
const JAVA_INT = /^[+-]?\d+$/;

/**
 * Reads hashAlgorithm(...) and hashIterations(...) out of a Keycloak password
 * policy string, the way PasswordPolicy.Builder splits it; other policies
 * (length, digits, ...) are not hashing and are ignored here.
 */
export function parsePasswordPolicy(policy: string): PasswordPolicy {
  let algorithmText: string | null = null;
  let iterationsText: string | null = null;
  if (policy.trim() !== '') {
    for (const raw of policy.split(POLICY_SEPARATOR)) {
      const part = raw.trim();
      const open = part.indexOf('(');
      const key = (open === -1 ? part : part.slice(0, open)).trim();
      if (key !== 'hashAlgorithm' && key !== 'hashIterations') continue;
      // Keycloak drops the last character as the closing parenthesis; so do we, after checking it is one.
      if (open !== -1 && !part.endsWith(')')) throw new RangeError(`password policy: "${key}(" is not closed`);
      const config = open === -1 ? null : part.slice(open + 1, -1).trim();
      // Later entries win, as in Keycloak's LinkedHashMap.
      if (key === 'hashAlgorithm') algorithmText = config;
      else if (key === 'hashIterations') iterationsText = config;
    }
  }

  const algorithm = algorithmText === null || algorithmText === '' ? DEFAULT_PASSWORD_ALGORITHM : algorithmText;
  const pbkdf2 = pbkdf2Algorithm(algorithm);
  const spec = algorithm === ARGON2_ALGORITHM ? ARGON2_SPEC : pbkdf2 === undefined ? undefined : { ...pbkdf2, ...PBKDF2_LIMIT };
  if (spec === undefined) {
    throw new RangeError(`password policy: unsupported hashAlgorithm ${JSON.stringify(algorithm)} (supported: ${supportedAlgorithmIds()})`);
  }

  let iterations = -1;
  if (iterationsText !== null && iterationsText !== '') {
    iterations = JAVA_INT.test(iterationsText) ? Number(iterationsText) : Number.NaN;
    if (!Number.isSafeInteger(iterations)) {
      throw new RangeError(`password policy: hashIterations must be an integer, got ${JSON.stringify(iterationsText)}`);
    }
  }
  // -1 is Keycloak's "provider default" (HashIterationsPasswordPolicyProviderFactory).
  if (iterations === -1) iterations = spec.defaultIterations;
  if (iterations < 1 || iterations > spec.iterationsMax) {
    throw new RangeError(`password policy: hashIterations must be from 1 to ${spec.iterationsMax} (or -1 for the default), got ${iterations}`);
  }
  return { algorithm, iterations };
}

/** What a policy needs of argon2: its default time cost and bound (its other parameters are Keycloak's defaults). */
const ARGON2_SPEC = { defaultIterations: ARGON2_DEFAULT_ITERATIONS, iterationsMax: ARGON2_ITERATIONS_MAX } as const;
const PBKDF2_LIMIT = { iterationsMax: PBKDF2_ITERATIONS_MAX } as const;

function policySpec(policy: PasswordPolicy): Pbkdf2AlgorithmSpec | typeof ARGON2_ALGORITHM {
  const spec = policy.algorithm === ARGON2_ALGORITHM ? ARGON2_ALGORITHM : pbkdf2Algorithm(policy.algorithm);
  if (spec === undefined) {
    throw new RangeError(`unsupported password hashing algorithm ${JSON.stringify(policy.algorithm)} (supported: ${supportedAlgorithmIds()})`);
  }
  const bad = checkIterations(policy.iterations, policy.algorithm);
  if (bad !== null) throw new RangeError(`password policy iterations ${bad}`);
  return spec;
}

type StoredHash = { salt: Buffer; key: Buffer } & ({ kind: 'pbkdf2'; spec: Pbkdf2AlgorithmSpec } | { kind: 'argon2'; params: Argon2Params });

/** A stored credential's parameters, checked before a thread spends 100 ms on it. */
function storedHash(credential: PasswordCredential): StoredHash {
  const argon2 = credential.algorithm === ARGON2_ALGORITHM;
  const spec = argon2 ? undefined : pbkdf2Algorithm(credential.algorithm);
  if (!argon2 && spec === undefined) {
    throw new CredentialFormatError('credential.algorithm', `unsupported password hashing algorithm ${JSON.stringify(credential.algorithm)} (supported: ${supportedAlgorithmIds()})`);
  }
  const bad = checkIterations(credential.iterations, credential.algorithm);
  if (bad !== null) throw new CredentialFormatError('credential.iterations', bad);
  const salt = decodeKeycloakBase64(credential.salt);
  if (salt === null) throw new CredentialFormatError('credential.salt', 'is not non-empty standard base64');
  const key = decodeKeycloakBase64(credential.hash);
  if (key === null) throw new CredentialFormatError('credential.hash', 'is not non-empty standard base64');
  if (spec !== undefined) return { kind: 'pbkdf2', spec, salt, key };
  // Argon2 needs 8 salt bytes at least (RFC 9106); Keycloak writes 16.
  if (salt.length < 8) throw new CredentialFormatError('credential.salt', 'an argon2 salt needs 8 bytes at least');
  return { kind: 'argon2', params: credential.argon2 ?? ARGON2_DEFAULT_PARAMS, salt, key };
}

type Pbkdf2Task = (request: Pbkdf2Request) => Pbkdf2Response;

export class PasswordHasher {
  readonly #pool: StaticPool<Pbkdf2Task>;
  readonly #size: number;
  readonly #nowMs: () => number;
  /** Rejecters of requests not yet answered: StaticPool.destroy() settles none of them. */
  readonly #inFlight = new Set<(err: Error) => void>();
  #closed = false;
  #rejected = 0;

  private constructor(pool: StaticPool<Pbkdf2Task>, size: number, nowMs: () => number) {
    this.#pool = pool;
    this.#size = size;
    this.#nowMs = nowMs;
  }

  /** Starts the pool and waits until its threads answer, so a broken build fails here, not at the first login. */
  static async start(options: PasswordHasherOptions = {}): Promise<PasswordHasher> {
    const size = options.size ?? os.availableParallelism();
    if (!Number.isInteger(size) || size < 1 || size > PASSWORD_POOL_SIZE_MAX) {
      throw new RangeError(`PasswordHasher size must be an integer from 1 to ${PASSWORD_POOL_SIZE_MAX}, got ${size}`);
    }
    const pool = new StaticPool<Pbkdf2Task>({ size, task: TASK_PATH });
    const hasher = new PasswordHasher(pool, size, options.nowMs ?? Date.now);
    try {
      const pings = Array.from({ length: size }, () => pool.createExecutor().setTimeout(POOL_START_TIMEOUT_MS).exec({ op: 'ping' }));
      for (const response of await Promise.all(pings)) PasswordHasher.#expect(response, 'ping');
    } catch (err) {
      await pool.destroy();
      throw err;
    }
    return hasher;
  }

  get size(): number {
    return this.#size;
  }

  /** Hashes waiting or running now. */
  get queued(): number {
    return this.#inFlight.size;
  }

  /** Hashes refused so far because PASSWORD_QUEUE_MAX were waiting (each a 503). */
  get rejected(): number {
    return this.#rejected;
  }

  /** A new credential for `password` under `policy`: fresh 16-byte salt, new id, createdDate now. */
  async hash(password: string, policy: PasswordPolicy): Promise<PasswordCredential> {
    if (typeof password !== 'string') throw new TypeError('password must be a string');
    const spec = policySpec(policy);
    const argon2 = spec === ARGON2_ALGORITHM ? { ...ARGON2_DEFAULT_PARAMS } : null;
    const salt = randomBytes(argon2 !== null ? ARGON2_SALT_BYTES : PBKDF2_SALT_BYTES);
    const response =
      argon2 !== null
        ? await this.#run({ op: 'argon2-derive', password, salt, iterations: policy.iterations, params: argon2 })
        : await this.#run({ op: 'derive', password, salt, iterations: policy.iterations, keyBytes: (spec as Pbkdf2AlgorithmSpec).keyBytes, digest: (spec as Pbkdf2AlgorithmSpec).digest });
    const { key } = PasswordHasher.#expect(response, 'derive');
    return {
      id: randomUUID(),
      type: 'password',
      algorithm: argon2 !== null ? ARGON2_ALGORITHM : (spec as Pbkdf2AlgorithmSpec).id,
      iterations: policy.iterations,
      salt: salt.toString('base64'),
      hash: Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64'),
      createdDate: this.#nowMs(),
      userLabel: null,
      ...(argon2 !== null ? { argon2 } : {}),
    };
  }

  /**
   * Whether `password` matches. Rejects with CredentialFormatError when the
   * stored credential itself is unusable (Keycloak logs and fails the login).
   */
  async verify(password: string, credential: PasswordCredential): Promise<boolean> {
    if (typeof password !== 'string') throw new TypeError('password must be a string');
    const stored = storedHash(credential);
    const { salt, key: expected } = stored;
    const response =
      stored.kind === 'argon2'
        ? await this.#run({ op: 'argon2-verify', password, salt, iterations: credential.iterations, params: stored.params, expected })
        : await this.#run({ op: 'verify', password, salt, iterations: credential.iterations, expected, digest: stored.spec.digest });
    return PasswordHasher.#expect(response, 'verify').match;
  }

  /** Keycloak's upgrade rule (the policy provider's policyCheck, negated): true = re-hash after this login. */
  needsRehash(credential: PasswordCredential, policy: PasswordPolicy): boolean {
    const spec = policySpec(policy);
    if (credential.algorithm !== policy.algorithm || credential.iterations !== policy.iterations) return true;
    // Argon2PasswordHashProvider compares every parameter with the provider's configuration.
    if (spec === ARGON2_ALGORITHM) return !sameArgon2Params(credential.argon2 ?? ARGON2_DEFAULT_PARAMS, ARGON2_DEFAULT_PARAMS);
    const key = decodeKeycloakBase64(credential.hash);
    return key === null || key.length !== spec.keyBytes;
  }

  /** Terminates the threads; hashes still queued or running reject with ERR_ENGINE_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new EngineError('ERR_ENGINE_CLOSED', 'password hasher closed before answering');
    for (const reject of this.#inFlight) reject(closed);
    this.#inFlight.clear();
    await this.#pool.destroy();
  }

  #run(request: Pbkdf2Request): Promise<Pbkdf2Response> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_ENGINE_CLOSED', 'password hasher is closed'));
    // Bounded: StaticPool would queue without limit, so a login flood could grow
    // memory and latency forever; past the bound a login is refused at once (503).
    if (this.#inFlight.size >= PASSWORD_QUEUE_MAX) {
      this.#rejected++;
      return Promise.reject(new EngineError('ERR_HASH_OVERLOADED'));
    }
    return new Promise<Pbkdf2Response>((resolve, reject) => {
      this.#inFlight.add(reject);
      this.#pool.exec(request).then(
        (response) => {
          this.#inFlight.delete(reject);
          resolve(response);
        },
        (err: unknown) => {
          this.#inFlight.delete(reject);
          reject(err);
        },
      );
    });
  }

  static #expect<Op extends 'ping' | 'derive' | 'verify'>(response: Pbkdf2Response, op: Op): Extract<Pbkdf2Response, { op: Op }> {
    if (!response.ok) throw new EngineError('ERR_COMMAND_FAILED', `password hashing failed: ${response.error}`);
    if (response.op !== op) throw new EngineError('ERR_COMMAND_FAILED', `password hashing answered ${response.op} to ${op}`);
    return response as Extract<Pbkdf2Response, { op: Op }>;
  }
}
