// Signing keys per realm, as Keycloak's default key providers create them:
// RSA 2048 for RS256 (the realm default), EC P-256 for ES256, Ed25519 for
// EdDSA, and a 512-bit HMAC secret for HS512 internal tokens (refresh tokens,
// the identity cookie). Keys are generated when a realm is created, persisted
// in LMDB, and rotatable: rotation makes a new key active for signing and keeps
// the previous ones enabled for verification (so tokens already issued stay
// valid) until they are removed.
//
// The `kid` is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public
// key, or of a random id for HMAC keys, which have no public half.

import { createHash, generateKeyPair, randomBytes, type JsonWebKey } from 'node:crypto';
import { promisify } from 'node:util';
import type { SignatureAlgorithm } from './model.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyAlgorithm = SignatureAlgorithm | 'HS512';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = Object.freeze(['RS256', 'ES256', 'EdDSA', 'HS512']);

const RSA_MODULUS_BITS = 2048;
const HMAC_SECRET_BYTES = 64;

export interface KeyRecord {
  kid: string;
  realmId: string;
  algorithm: KeyAlgorithm;
  /** PKCS#8 PEM of the private key (asymmetric keys). */
  privateKeyPem: string | null;
  /** SPKI PEM of the public key (asymmetric keys). */
  publicKeyPem: string | null;
  /** The public JWK (asymmetric keys), with kid, use and alg. */
  publicJwk: JsonWebKey | null;
  /** base64url HMAC secret (HS512). */
  secret: string | null;
  /** Epoch ms. */
  createdAt: number;
  /** Used to sign new tokens (one active key per algorithm). */
  active: boolean;
  /** Accepted for verification. */
  enabled: boolean;
}

function thumbprint(jwk: JsonWebKey): string {
  let canonical: string;
  switch (jwk.kty) {
    case 'RSA':
      canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
      break;
    case 'EC':
      canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
      break;
    case 'OKP':
      canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
      break;
    default:
      throw new RangeError(`unsupported key type ${String(jwk.kty)}`);
  }
  return createHash('sha256').update(canonical).digest('base64url');
}

/** Generates one key for `algorithm` in `realmId` (async: RSA generation takes tens of ms). */
export async function generateKey(realmId: string, algorithm: KeyAlgorithm, nowMs = Date.now()): Promise<KeyRecord> {
  if (algorithm === 'HS512') {
    const secret = randomBytes(HMAC_SECRET_BYTES).toString('base64url');
    return {
      kid: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      realmId,
      algorithm,
      privateKeyPem: null,
      publicKeyPem: null,
      publicJwk: null,
      secret,
      createdAt: nowMs,
      active: true,
      enabled: true,
    };
  }
  const pair =
    algorithm === 'RS256'
      ? await generateKeyPairAsync('rsa', { modulusLength: RSA_MODULUS_BITS, publicExponent: 0x10001 })
      : algorithm === 'ES256'
        ? await generateKeyPairAsync('ec', { namedCurve: 'P-256' })
        : await generateKeyPairAsync('ed25519');
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const kid = thumbprint(jwk);
  return {
    kid,
    realmId,
    algorithm,
    privateKeyPem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicJwk: { ...jwk, kid, use: 'sig', alg: algorithm },
    secret: null,
    createdAt: nowMs,
    active: true,
    enabled: true,
  };
}

/** The keys a new realm starts with: one per algorithm. */
export async function generateRealmKeys(realmId: string, nowMs = Date.now()): Promise<KeyRecord[]> {
  return Promise.all(KEY_ALGORITHMS.map((alg) => generateKey(realmId, alg, nowMs)));
}
