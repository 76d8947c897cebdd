// journal: what crash safety costs. Two local nodes run side by side from
// the same realm file, one with `--durability journal` (every lifecycle
// change written to the journal's log before its answer) and one with
// `--durability snapshot` (the same server without the journal):
//
//   refresh_rps_journal_es256     refresh_token grants with rotation on, so that
//                                 every refresh records its chain (a journaled,
//                                 awaited change), vs the snapshot node (>= 0.9x)
//   login_journal_overhead_ms_p50 median latency of a password login (one at a
//                                 time, 1,000-iteration hashes) on the journal
//                                 node minus the same on the snapshot node (< 2 ms)
//   startup_ms_1m_journal         an engine restoring 1 M online sessions (100 k
//                                 with --quick) from its snapshot + journal after
//                                 stopping without a shutdown snapshot (< 5 s)
//
// The refresh pool reuses each token (rotation with a reuse limit no run
// reaches), so the load is the same on both nodes; the loads take turns
// (measureInterleaved) so machine noise lands on both.

import { performance } from 'node:perf_hooks';
import { Engine } from '../../src/host/engine.js';
import { MUTATION, type Mutation } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { openEnv } from '../../src/store/lmdb-env.js';
import { percentile } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/scenario.js';
import { row } from '../lib/scenario.js';
import type { LoadResult } from '../http/load.js';
import { stopAll, tempDir } from '../http/processes.js';
import { httpErrorsRow, runRows } from '../http/report.js';
import { loginPool, passwordBody, refreshRequest } from '../http/requests.js';
import { httpBench, measureInterleaved, POOL_HASH_ITERATIONS, type HttpBench } from '../http/setup.js';
import { paths, startLocalNode, type LocalNode } from '../http/target.js';

const NAME = 'journal';
const REALM = 'bench-es256';
const LOGINS = 300;
const LOGINS_QUICK = 60;
const RESTORE_SESSIONS = 1_000_000;
const RESTORE_SESSIONS_QUICK = 100_000;
const RESTORE_BATCH = 10_000;

export const journal: Scenario = {
  name: NAME,
  description: 'cost of the crash journal: refresh rate and login latency vs the same server without it; restore time of 1 M sessions',
  async run(options) {
    const b = httpBench(NAME, options);
    const nodes: LocalNode[] = [];
    try {
      const journaled = await startNode(b, 'journal');
      nodes.push(journaled);
      const plain = await startNode(b, 'snapshot');
      nodes.push(plain);
      const rows: Row[] = [];
      const [baseline, subject] = await refreshes(b, plain, journaled);
      rows.push(row(NAME, 'refresh_rps_journal_es256', subject!.rps, 'req/s', baseline!.rps));
      rows.push(...runRows(NAME, 'journal_es256', subject!, baseline!));
      rows.push(httpErrorsRow(NAME, [baseline!, subject!]));
      const [journalP50, plainP50] = await loginLatencies(b, journaled, plain);
      rows.push(row(NAME, 'login_journal_overhead_ms_p50', journalP50 - plainP50, 'ms'));
      rows.push(row(NAME, 'login_ms_p50_journal', journalP50, 'ms', plainP50));
      await stopAll(nodes.splice(0));
      rows.push(row(NAME, 'startup_ms_1m_journal', await restoreMs(b, options.quick ? RESTORE_SESSIONS_QUICK : RESTORE_SESSIONS), 'ms'));
      return rows;
    } finally {
      await stopAll(nodes);
    }
  },
};

function startNode(b: HttpBench, durability: 'journal' | 'snapshot'): Promise<LocalNode> {
  const o = b.opts;
  const spec = {
    name: REALM, algorithm: 'ES256' as const, users: o.users, usersPrefix: o.usersPrefix, password: o.password,
    hashIterations: POOL_HASH_ITERATIONS, client: o.client, secret: o.secret, rotation: true,
  };
  return startLocalNode([spec], o, b.log, ['--durability', durability]);
}

async function refreshes(b: HttpBench, plain: LocalNode, journaled: LocalNode): Promise<LoadResult[]> {
  const o = b.opts;
  const plainPool = await loginPool(plain.target, REALM, o.users, o.connections);
  const journalPool = await loginPool(journaled.target, REALM, o.users, o.connections);
  return measureInterleaved(b, [
    { label: 'snapshot-es256', origin: plain.target.origin, requests: () => [refreshRequest(plain.target, REALM, plainPool.map((s) => s.refresh))], server: plain.process },
    { label: 'journal-es256', origin: journaled.target.origin, requests: () => [refreshRequest(journaled.target, REALM, journalPool.map((s) => s.refresh))], server: journaled.process },
  ]);
}

/** Median latency of sequential password logins on each node, taking turns login by login. */
async function loginLatencies(b: HttpBench, first: LocalNode, second: LocalNode): Promise<[number, number]> {
  const count = b.quick ? LOGINS_QUICK : LOGINS;
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < count; i++) {
    for (const [n, node] of [first, second].entries()) {
      const target = node.target;
      const started = performance.now();
      const res = await fetch(`${target.origin}${paths.token(target, REALM)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization },
        body: passwordBody(target, i % target.users),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`login answered ${res.status}`);
      times[n]!.push(performance.now() - started);
    }
  }
  const [a, c] = [percentile(times[0], 50), percentile(times[1], 50)];
  b.log(`login p50: journal ${a.toFixed(2)} ms, snapshot ${c.toFixed(2)} ms over ${count} logins each`);
  return [a, c];
}

/** Builds `count` journaled sessions with an engine, stops it without a snapshot, and times a new engine's restore. */
async function restoreMs(b: HttpBench, count: number): Promise<number> {
  const dir = await tempDir('journal');
  try {
    let env = openEnv(dir.path);
    let engine = await Engine.start({ shards: 2, env, durability: 'journal' });
    await engine.putRealm('r', {});
    await engine.putClient('r', 'c', {});
    const now = Math.floor(Date.now() / 1000);
    const built = performance.now();
    for (let i = 0; i < count; i += RESTORE_BATCH) {
      const batch: Mutation[] = [];
      for (let j = i; j < Math.min(count, i + RESTORE_BATCH); j++) {
        const userId = `user-${j}`;
        const partition = partitionOf('r', userId);
        const id = newSessionId(partition);
        batch.push({ k: MUTATION.sessionCreated, id, partition, realm: 'r', userId, username: userId, ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started: now, lastSessionRefresh: now, authTime: now, notes: null });
        batch.push({ k: MUTATION.clientAttached, id, client: 'c', started: now, timestamp: now, scope: 'openid', ssoAuth: false, notes: null, userRefresh: -1 });
      }
      await engine.applyMutations(batch);
    }
    b.log(`${count} sessions journaled in ${((performance.now() - built) / 1000).toFixed(1)} s`);
    await engine.close();
    await env.close();

    const started = performance.now();
    env = openEnv(dir.path);
    engine = await Engine.start({ shards: 2, env, durability: 'journal' });
    await engine.putRealm('r', {});
    await engine.putClient('r', 'c', {});
    const restored = await engine.loadSnapshot();
    const ms = performance.now() - started;
    b.log(`restored ${restored.loaded} sessions (dropped ${restored.dropped.length}) in ${ms.toFixed(0)} ms`);
    if (restored.loaded !== count) throw new Error(`restored ${restored.loaded} of ${count} sessions`);
    await engine.close();
    await env.close();
    return ms;
  } finally {
    await dir.remove();
  }
}
