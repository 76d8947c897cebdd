// Compact JWS signing and verification on the hot path, with node:crypto
// KeyObjects. Written by hand on purpose: measured on this machine class, a
// compact JWT signed with crypto.sign costs the signature plus a few µs of
// JSON and base64url, while jose's SignJWT goes through WebCrypto and is
// 4–30× slower per token (docs/performance.md#token-signing). jose is still used for JWK
// import/export and by the tests to verify what this module signs.
//
// Safety rules of verification: the algorithm comes from OUR key, never from
// the token header (a header naming another algorithm, `none`, or an unknown
// kid is rejected); HMAC signatures are compared in constant time; the
// payload must be a JSON object.

import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm, KeyRecord } from '../realm/keys.js';

export type JwtPayload = Record<string, unknown>;

const HASH_OF: Record<KeyAlgorithm, string | null> = { RS256: 'sha256', ES256: 'sha256', EdDSA: null, HS512: 'sha512' };

/** One key, ready to sign: the header segment is encoded once. */
export class JwtSigner {
  readonly kid: string;
  readonly algorithm: KeyAlgorithm;
  readonly #privateKey: KeyObject | null;
  readonly #secret: Buffer | null;
  readonly #headers = new Map<string, string>();

  constructor(key: KeyRecord) {
    this.kid = key.kid;
    this.algorithm = key.algorithm;
    if (key.algorithm === 'HS512') {
      if (key.secret === null) throw new RangeError(`key ${key.kid} has no secret`);
      this.#secret = Buffer.from(key.secret, 'base64url');
      this.#privateKey = null;
    } else {
      if (key.privateKeyPem === null) throw new RangeError(`key ${key.kid} has no private key`);
      this.#privateKey = createPrivateKey(key.privateKeyPem);
      this.#secret = null;
    }
  }

  #header(typ: string): string {
    let header = this.#headers.get(typ);
    if (header === undefined) {
      header = Buffer.from(JSON.stringify({ alg: this.algorithm, typ, kid: this.kid })).toString('base64url');
      this.#headers.set(typ, header);
    }
    return header;
  }

  /** Signs synchronously (cheap algorithms: HS512, ES256, EdDSA). */
  sign(payload: JwtPayload, typ = 'JWT'): string {
    const input = `${this.#header(typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${input}.${this.#signature(input)}`;
  }

  /**
   * Signs on libuv's thread pool (both cores), for RS256 whose ~0.3 ms
   * signature would otherwise hold the event loop. HMAC is always inline.
   */
  signAsync(payload: JwtPayload, typ = 'JWT'): Promise<string> {
    const input = `${this.#header(typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    if (this.#secret !== null) return Promise.resolve(`${input}.${this.#signature(input)}`);
    return new Promise((resolve, reject) => {
      sign(HASH_OF[this.algorithm], Buffer.from(input), this.#keyOptions(), (err, signature) => {
        if (err !== null) reject(err);
        else resolve(`${input}.${signature.toString('base64url')}`);
      });
    });
  }

  #keyOptions(): KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } {
    return this.algorithm === 'ES256' ? { key: this.#privateKey!, dsaEncoding: 'ieee-p1363' } : this.#privateKey!;
  }

  #signature(input: string): string {
    if (this.#secret !== null) return createHmac('sha512', this.#secret).update(input).digest('base64url');
    return sign(HASH_OF[this.algorithm], Buffer.from(input), this.#keyOptions()).toString('base64url');
  }
}

/** Why a token was rejected. Stable strings for logs; never echoed with token contents. */
export type JwtRejection = 'malformed' | 'unknown_key' | 'algorithm_mismatch' | 'bad_signature';

export type JwtVerifyResult =
  | { ok: true; header: { alg: string; kid?: string; typ?: string }; payload: JwtPayload }
  | { ok: false; reason: JwtRejection };

/** Looks up a verification key by kid (and gives its algorithm). */
export type KeyLookup = (kid: string | undefined) => VerifyKey | undefined;

export class VerifyKey {
  readonly kid: string;
  readonly algorithm: KeyAlgorithm;
  readonly #publicKey: KeyObject | null;
  readonly #secret: Buffer | null;

  constructor(key: KeyRecord) {
    this.kid = key.kid;
    this.algorithm = key.algorithm;
    this.#secret = key.algorithm === 'HS512' ? Buffer.from(key.secret!, 'base64url') : null;
    this.#publicKey = key.algorithm === 'HS512' ? null : createPublicKey(key.publicKeyPem!);
  }

  check(input: string, signature: Buffer): boolean {
    if (this.#secret !== null) {
      const expected = createHmac('sha512', this.#secret).update(input).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    const key = this.algorithm === 'ES256' ? { key: this.#publicKey!, dsaEncoding: 'ieee-p1363' as const } : this.#publicKey!;
    return verify(HASH_OF[this.algorithm], Buffer.from(input), key, signature);
  }
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(segment: string): unknown {
  if (!B64URL.test(segment)) throw new SyntaxError('not base64url');
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/** Verifies a compact JWS against the key its kid names; the algorithm must be that key's. */
export function verifyJwt(token: string, lookup: KeyLookup): JwtVerifyResult {
  if (typeof token !== 'string' || token.length > 16_384) return { ok: false, reason: 'malformed' };
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || second === token.length - 1 || token.indexOf('.', second + 1) >= 0) {
    return { ok: false, reason: 'malformed' };
  }
  let header: { alg?: unknown; kid?: unknown; typ?: unknown };
  let payload: unknown;
  try {
    header = decodeSegment(token.slice(0, first)) as typeof header;
    payload = decodeSegment(token.slice(first + 1, second));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (header === null || typeof header !== 'object' || typeof header.alg !== 'string') return { ok: false, reason: 'malformed' };
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { ok: false, reason: 'malformed' };
  const key = lookup(typeof header.kid === 'string' ? header.kid : undefined);
  if (key === undefined) return { ok: false, reason: 'unknown_key' };
  if (header.alg !== key.algorithm) return { ok: false, reason: 'algorithm_mismatch' };
  const signatureText = token.slice(second + 1);
  if (!B64URL.test(signatureText)) return { ok: false, reason: 'malformed' };
  if (!key.check(token.slice(0, second), Buffer.from(signatureText, 'base64url'))) return { ok: false, reason: 'bad_signature' };
  return {
    ok: true,
    header: {
      alg: header.alg,
      ...(typeof header.kid === 'string' ? { kid: header.kid } : {}),
      ...(typeof header.typ === 'string' ? { typ: header.typ } : {}),
    },
    payload: payload as JwtPayload,
  };
}

/** Reads the payload without verifying (only to find which realm/key to verify with). */
export function peekJwtPayload(token: string): JwtPayload | null {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload = decodeSegment(parts[1]!);
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as JwtPayload) : null;
  } catch {
    return null;
  }
}
