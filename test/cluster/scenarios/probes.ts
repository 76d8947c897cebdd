// Probe sessions and copies of one partition, for the scenarios that follow a
// partition through a fault (S4, S5): sessions logged in apart from the
// workload (which may log its own out), where a session lives as a node sees
// it (and the cluster: what it still sends whom), and a stopped node's disk
// made to hold nothing of a partition.

import type { ClusterDescription, PartitionDescription } from '../../../src/cluster/cluster-description.js';
import { partitionOfSessionId } from '../../../src/protocol/partition.js';
import { DB, openEnv } from '../../../src/store/lmdb-env.js';
import type { Cluster } from '../harness.js';
import { passwordLogin } from '../workload.js';
import type { ScenarioContext } from './scenario.js';

/** Users a probe session is logged in for (every session of a user lives in the user's partition). */
export const PROBE_USERS = Array.from({ length: 16 }, (_, i) => `user${String(i + 1).padStart(3, '0')}`);

export interface Probe {
  /** Its refresh token. */
  token: string;
  sid: string;
  partition: number;
}

/** Logs one probe session in through `node` for each of PROBE_USERS. */
export function loginProbes(ctx: ScenarioContext, cluster: Cluster, node: string): Promise<Probe[]> {
  return Promise.all(PROBE_USERS.map(async (user) => {
    const login = await passwordLogin(cluster.node(node).target, user);
    ctx.expect(login.status === 200, `the probe of ${user} logs in: ${login.status}`);
    const token = String(login.body['refresh_token']);
    const sid = String((JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid);
    return { token, sid, partition: partitionOfSessionId(sid) };
  }));
}

/** Where `session` lives, as `asked` sees it (its /cluster/sessions/{id}). */
export async function placement(cluster: Cluster, session: string, asked: string): Promise<PartitionDescription> {
  return (await (await fetch(`${cluster.node(asked).managementUrl}/cluster/sessions/${session}`)).json()) as PartitionDescription;
}

/** The cluster as `asked` sees it (its /cluster). */
export async function describe(cluster: Cluster, asked: string): Promise<ClusterDescription> {
  return (await (await fetch(`${cluster.node(asked).managementUrl}/cluster`)).json()) as ClusterDescription;
}

/**
 * Erases what a stopped node's disk holds of `partition`: its snapshot and
 * idle clocks go, and a snapshot seq beyond any logged record makes the
 * journal's records of it stale. The node restarts without that copy.
 */
export async function eraseCopy(dataDir: string, partition: number): Promise<void> {
  const env = openEnv(dataDir);
  try {
    const chunks = env.db(DB.onlineChunks);
    const touches = env.db(DB.journalTouches);
    const seqs = env.db<number>(DB.onlineSeq);
    await env.root.transaction(() => {
      for (const key of chunks.getKeys({ start: [partition], end: [partition + 1] })) chunks.remove(key);
      for (const key of touches.getKeys({ start: [partition], end: [partition, '\uffff'] })) touches.remove(key);
      seqs.put(partition, 2 ** 40);
    });
  } finally {
    await env.close();
  }
}
