// A cluster member's data directory belongs to one node of one cluster: its
// LMDB remembers both at the first start, and a later start with another
// node id or cluster name is refused (it would bring another node's
// configuration revision and files into this node's place). It also
// remembers the membership the node held (its incarnation and the table it
// obeyed), so that a restart can come back as that member with its copies.

import { ConfigError } from '../config/options.js';
import { DB, type LmdbEnv } from '../store/lmdb-env.js';

const KEY = 'clusterIdentity';

interface Identity {
  cluster: string;
  node: string;
}

/** Records the identity on first use; throws a ConfigError when the directory belongs to another node or cluster. */
export function checkNodeIdentity(env: LmdbEnv, cluster: string, node: string): void {
  const meta = env.db<Identity>(DB.meta);
  const stored = meta.get(KEY);
  if (stored === undefined) {
    meta.putSync(KEY, { cluster, node });
    return;
  }
  if (stored.cluster !== cluster || stored.node !== node) {
    throw new ConfigError(
      `--data-dir ${env.path} belongs to node ${stored.node} of cluster ${stored.cluster}, not to node ${node} of cluster ${cluster}: use that node's own data directory, or an empty one`,
    );
  }
}

const MEMBERSHIP_KEY = 'clusterMembership';

/**
 * What a restart needs to come back as the member it was: the incarnation the
 * partition table knows this node by, and the etcd revision of the table
 * whose roles its disk holds (docs/cluster.md, "Whole-cluster restart").
 */
export interface RememberedMembership {
  incarnation: string;
  tableRevision: number;
}

/** The membership this data directory last held, or null (never a member, or it left). */
export function rememberedMembership(env: LmdbEnv): RememberedMembership | null {
  const stored = env.db<RememberedMembership>(DB.meta).get(MEMBERSHIP_KEY);
  if (stored === undefined || stored === null || typeof stored.incarnation !== 'string' || !Number.isSafeInteger(stored.tableRevision)) return null;
  return stored;
}

/** Records the membership once the table's roles are applied (null: none to come back as). Resolves when committed. */
export async function rememberMembership(env: LmdbEnv, membership: RememberedMembership | null): Promise<void> {
  const meta = env.db<RememberedMembership>(DB.meta);
  if (membership === null) await meta.remove(MEMBERSHIP_KEY);
  else await meta.put(MEMBERSHIP_KEY, membership);
}
