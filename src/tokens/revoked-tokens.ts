// Revoked access-token ids (RFC 7009 revocation of an access token,
// docs/keycloak-semantics.md#not-before-revocation, #introspection-revocation-userinfo): kept until the token would have expired anyway, in
// LMDB so that a restart does not un-revoke them (Keycloak 26 persists them
// too), and in a Map on the main thread for the checks on every
// introspection and userinfo call.

import type { Database } from 'lmdb';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

/** Keycloak keeps a revoked id at least this long. */
const MIN_KEEP_S = 10;

export class RevokedTokens {
  readonly #db: Database<number, string>;
  readonly #env: LmdbEnv;
  readonly #ids = new Map<string, number>();

  constructor(env: LmdbEnv, nowSeconds: number) {
    this.#env = env;
    this.#db = env.db(DB.revoked);
    for (const { key, value } of this.#db.getRange()) {
      if (value > nowSeconds) this.#ids.set(key, value);
    }
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Revokes `jti` until `exp` (epoch s); resolves once LMDB committed it. */
  async revoke(jti: string, exp: number, nowSeconds: number): Promise<void> {
    const until = Math.max(exp + 1, nowSeconds + MIN_KEEP_S);
    this.#ids.set(jti, until);
    await this.#db.put(jti, until);
  }

  isRevoked(jti: string, nowSeconds: number): boolean {
    const until = this.#ids.get(jti);
    return until !== undefined && until > nowSeconds;
  }

  /** Forgets ids whose tokens have expired. */
  async sweep(nowSeconds: number): Promise<number> {
    const gone: string[] = [];
    for (const [jti, until] of this.#ids) if (until <= nowSeconds) gone.push(jti);
    if (gone.length === 0) return 0;
    for (const jti of gone) this.#ids.delete(jti);
    await this.#env.root.transaction(() => {
      for (const jti of gone) void this.#db.remove(jti);
    });
    return gone.length;
  }
}
