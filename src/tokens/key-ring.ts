// KeyRing: the signing and verification keys of every realm, turned into
// node:crypto KeyObjects once and reused for every token. Rebuilt for a realm
// when its key list in the store changes (the store replaces the list on
// every key write, so identity is the version).

import type { KeyAlgorithm, KeyRecord } from '../realm/keys.js';
import type { RealmStore } from '../realm/realm-store.js';
import { JwtSigner, VerifyKey } from './jwt.js';

interface RealmKeys {
  source: readonly KeyRecord[];
  signers: Map<KeyAlgorithm, JwtSigner>;
  verifiers: Map<string, VerifyKey>;
}

export class KeyRing {
  readonly #store: RealmStore;
  readonly #realms = new Map<string, RealmKeys>();

  constructor(store: RealmStore) {
    this.#store = store;
  }

  #keys(realmId: string): RealmKeys {
    const source = this.#store.keys(realmId);
    let keys = this.#realms.get(realmId);
    if (keys === undefined || keys.source !== source) {
      keys = { source, signers: new Map(), verifiers: new Map() };
      for (const key of source) {
        if (!key.enabled) continue;
        keys.verifiers.set(key.kid, new VerifyKey(key));
        if (key.active && !keys.signers.has(key.algorithm)) keys.signers.set(key.algorithm, new JwtSigner(key));
      }
      this.#realms.set(realmId, keys);
    }
    return keys;
  }

  /** The signer of the realm's active key for `algorithm`, or undefined. */
  signer(realmId: string, algorithm: KeyAlgorithm): JwtSigner | undefined {
    return this.#keys(realmId).signers.get(algorithm);
  }

  /** The verification key `kid` of the realm (enabled keys only). */
  verifier(realmId: string, kid: string | undefined): VerifyKey | undefined {
    return kid === undefined ? undefined : this.#keys(realmId).verifiers.get(kid);
  }

  /** The realm's public JWKs (`certs` endpoint): every enabled asymmetric key. */
  jwks(realmId: string): object[] {
    const out: object[] = [];
    for (const key of this.#store.keys(realmId)) if (key.enabled && key.publicJwk !== null) out.push(key.publicJwk);
    return out;
  }
}
