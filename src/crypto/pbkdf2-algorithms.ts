// Keycloak's PBKDF2 password-hash providers, as data. Each row is one
// provider factory of Keycloak 24-26.x (server-spi-private, package
// org.keycloak.credential.hash): the id stored in credentialData.algorithm,
// the HMAC digest behind the JCA name, the factory's DEFAULT_ITERATIONS
// (used when the realm policy has no hashIterations) and the derived key
// size new hashes get (the provider's derivedKeySize, in bytes here).
//
// Verification never uses keyBytes: it derives as many bytes as the stored
// value holds, exactly as Pbkdf2PasswordHashProvider.keySize() does. keyBytes
// only decides new hashes and the re-hash check.

export type Pbkdf2Digest = 'sha512' | 'sha256' | 'sha1';

export interface Pbkdf2AlgorithmSpec {
  /** Keycloak provider id, e.g. `pbkdf2-sha512`. */
  id: string;
  /** Java: PBKDF2WithHmacSHA512 / SHA256 / SHA1. */
  digest: Pbkdf2Digest;
  defaultIterations: number;
  keyBytes: number;
}

export const PBKDF2_ALGORITHMS: readonly Pbkdf2AlgorithmSpec[] = Object.freeze([
  // Pbkdf2Sha512PasswordHashProviderFactory: 210_000 (OWASP), default 512-bit key.
  Object.freeze({ id: 'pbkdf2-sha512', digest: 'sha512', defaultIterations: 210_000, keyBytes: 64 }),
  // Pbkdf2Sha256PasswordHashProviderFactory: 600_000 (OWASP), created with an explicit 256-bit key.
  Object.freeze({ id: 'pbkdf2-sha256', digest: 'sha256', defaultIterations: 600_000, keyBytes: 32 }),
  // Pbkdf2PasswordHashProviderFactory (deprecated): 1_300_000 (OWASP), default 512-bit key,
  // which is four SHA-1 blocks, so each hash costs 4 x 1.3 M HMAC chains.
  Object.freeze({ id: 'pbkdf2', digest: 'sha1', defaultIterations: 1_300_000, keyBytes: 64 }),
] as const);

/** sessiond's default, as Keycloak 24 (and Keycloak 25+ in FIPS mode): see password-hasher.ts. */
export const DEFAULT_PASSWORD_ALGORITHM = 'pbkdf2-sha512';

/** Java's PBEKeySpec takes an int iteration count. */
export const PBKDF2_ITERATIONS_MAX = 2 ** 31 - 1;

/** Bytes of salt in a new hash (Pbkdf2PasswordHashProvider.getSalt: new byte[16]). */
export const PBKDF2_SALT_BYTES = 16;

const BY_ID: ReadonlyMap<string, Pbkdf2AlgorithmSpec> = new Map(PBKDF2_ALGORITHMS.map((a) => [a.id, a]));

/** The spec for a Keycloak algorithm id, or undefined when sessiond does not implement it. */
export function pbkdf2Algorithm(id: string): Pbkdf2AlgorithmSpec | undefined {
  return BY_ID.get(id);
}
