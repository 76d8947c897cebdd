// Revoked access-token ids (RFC 7009 revocation of an access token,
// docs/keycloak-semantics.md#not-before-revocation, #introspection-revocation-userinfo): kept until the token would have expired anyway, in
// LMDB so that a restart does not un-revoke them (Keycloak 26 persists them
// too), and in a Map on the main thread for the checks on every
// introspection and userinfo call.

import type { Database } from 'lmdb';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

/** Keycloak keeps a revoked id at least this long. */
const MIN_KEEP_S = 10;

/** A revocation as data: what a cluster member commits to the shared log (src/cluster/config-log.ts). */
export interface RevokeTokenOp {
  op: 'revokeToken';
  jti: string;
  until: number;
}

/** Where a cluster member's revocations go first; resolves once this node applied the op. */
export interface RevocationLog {
  commit(op: RevokeTokenOp): Promise<void>;
}

export class RevokedTokens {
  readonly #db: Database<number, string>;
  readonly #env: LmdbEnv;
  readonly #ids = new Map<string, number>();
  #log: RevocationLog | null = null;

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

  /** Cluster mode: revocations are committed to the shared log, so every member knows them. */
  useLog(log: RevocationLog): void {
    this.#log = log;
  }

  /** Revokes `jti` until `exp` (epoch s); resolves once LMDB committed it (on every member, in a cluster). */
  async revoke(jti: string, exp: number, nowSeconds: number): Promise<void> {
    const op: RevokeTokenOp = { op: 'revokeToken', jti, until: Math.max(exp + 1, nowSeconds + MIN_KEEP_S) };
    if (this.#log !== null) await this.#log.commit(op);
    else await this.apply(op);
  }

  /** Applies a revocation (this node's own, or one from the cluster's log). */
  async apply(op: RevokeTokenOp): Promise<void> {
    this.#ids.set(op.jti, op.until);
    await this.#db.put(op.jti, op.until);
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
