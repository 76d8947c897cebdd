// A cluster member's data directory belongs to one node of one cluster: its
// LMDB remembers both at the first start, and a later start with another
// node id or cluster name is refused (it would bring another node's
// configuration revision and files into this node's place).

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
