// admin-sessions: the admin console's realm-wide session page (ui-ext,
// docs/keycloak-semantics.md#admin-session-endpoints) at 1,000,000 online sessions against the same page at
// 10,000 (docs/performance.md#targets: < 50 ms and ~1x, target ratio <= 1.5).
//
//   admin_page_ms_1m          median time of GET /admin/realms/{realm}/
//       ui-ext/sessions?first=0&max=10 over HTTP (fetch, one keep-alive
//       connection, requests one after another, the body read) on a realm
//       holding N sessions (quick: 200,000). Baseline: the same request on a
//       realm of the same node holding 10,000.
//   admin_page_search_ms_1m   the same with &search=<one username>: matches
//       exactly one session in either realm (users are distinct,
//       user-0000000 .. user-<n-1> in each realm, the searched one among the
//       first 10 k).
//   admin_page_last_access_ms_1m   the page sorted by last access, newest
//       first (&sort=lastAccess&order=desc): no index keeps that order, so
//       each shard walks all its sessions of the realm through a bounded
//       heap; this one grows with the realm, by design.
//   admin_page_cidr_ms_1m   newest first, only addresses in 10.0.0.0/16
//       (&sort=start&order=desc&ipIn=...): the first 65,536 sessions have
//       them, so in the big realm the walk from the newest crosses ~94 % of
//       it before the page fills (the worst case of a filter), while every
//       session of the small realm matches.
//
// Why two realms on one node, sampled alternately, rather than one realm
// measured before and after it grows: on this shared machine the latency
// of everything, even a bare shard round trip, swings by up to 10x for
// seconds at a time, so two phases minutes apart compare two different
// machines. Alternating requests share the conditions; what the target is
// about -- does the page cost grow with the realm's sessions -- is what
// differs between the two. What the alternation cannot show is a cost that
// grows with all sessions of a shard whatever their realm; the log therefore
// also has the page timed while the node held only the 10 k realm's
// sessions, before the big realm was filled.
//
// One in-process node (2 shards); sessions are created straight through
// node.engine (distinct users, 3 clients round-robin); the token is a
// master-realm admin token (admin/admin via admin-cli). Samples follow
// unmeasured warm-up requests; the log has median, p99 and max of each.

import { performance } from 'node:perf_hooks';
import { username } from '../lib/data.js';
import { adminToken, createSessions, describe, onlineCount, realmFile, realmIds, startAdminNode, summarize, type AdminNode, type Timings } from '../lib/admin-node.js';
import { row, type Scenario } from '../lib/scenario.js';

const NAME = 'admin-sessions';
const SMALL = 'sessions-10k';
const BIG = 'sessions-1m';
const CLIENTS = ['app-1', 'app-2', 'app-3'];
const BASELINE_SESSIONS = 10_000;
const SESSIONS_FULL = 1_000_000;
const SESSIONS_QUICK = 200_000;
const SAMPLES_FULL = 60;
const SAMPLES_QUICK = 25;
const WARMUP = 5;
/** The one user the search finds (among the first 10,000, so it exists at both sizes). */
const SEARCHED_USER = 4_242;

interface Probe {
  url: string;
  expectRows: number;
}

function probe(a: AdminNode, realm: string, query: string, expectRows: number): Probe {
  return { url: `${a.origin}/admin/realms/${realm}/ui-ext/sessions?${query}`, expectRows };
}

async function timeOne(p: Probe, token: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(p.url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`GET ${p.url}: status ${res.status}: ${text.slice(0, 300)}`);
  const rows = JSON.parse(text) as unknown[];
  if (rows.length !== p.expectRows) throw new Error(`GET ${p.url}: ${rows.length} rows, expected ${p.expectRows}`);
  return ms;
}

/** `samples` timings of each probe, the probes taking turns (order flipped every round), after warm-up rounds. */
async function sample(probes: readonly Probe[], token: string, samples: number): Promise<Timings[]> {
  const out: number[][] = probes.map(() => []);
  for (let i = -WARMUP; i < samples; i++) {
    const order = probes.map((_, k) => k);
    if (i % 2 !== 0) order.reverse();
    for (const k of order) {
      const ms = await timeOne(probes[k]!, token);
      if (i >= 0) out[k]!.push(ms);
    }
  }
  return out.map(summarize);
}

export const adminSessions: Scenario = {
  name: NAME,
  description: 'admin ui-ext realm session page (first=0&max=10; a search; sorted by last access; a CIDR filter) at 1 M online sessions vs 10 k',
  async run({ quick, log }) {
    const n = quick ? SESSIONS_QUICK : SESSIONS_FULL;
    const samples = quick ? SAMPLES_QUICK : SAMPLES_FULL;
    const spec = (name: string) => ({ name, algorithm: 'ES256' as const, users: 0, usersPrefix: 'u', password: 'p', hashIterations: 1000, client: CLIENTS[0]!, secret: 's' });
    const a = await startAdminNode([realmFile(spec(SMALL), CLIENTS.slice(1)), realmFile(spec(BIG), CLIENTS.slice(1))]);
    try {
      const token = await adminToken(a);
      const small = realmIds(a, SMALL, CLIENTS);
      const big = realmIds(a, BIG, CLIENTS);
      const page = 'first=0&max=10';
      const search = `first=0&max=10&search=${encodeURIComponent(username(SEARCHED_USER))}`;
      const lastAccess = 'first=0&max=10&sort=lastAccess&order=desc';
      const cidr = `first=0&max=10&sort=start&order=desc&ipIn=${encodeURIComponent('10.0.0.0/16')}`;

      await createSessions(a, small, 0, BASELINE_SESSIONS, log);
      const [alone, aloneSearch] = await sample([probe(a, SMALL, page, 10), probe(a, SMALL, search, 1)], token, samples);
      log(`node with ${BASELINE_SESSIONS.toLocaleString('en-US')} sessions only: page ${describe(alone!)}; search ${describe(aloneSearch!)}`);

      await createSessions(a, big, 0, n, log);
      const online = await onlineCount(a, big.realmId);
      if (online !== n) throw new Error(`${online} sessions online in ${BIG}, ${n} created`);
      const [basePage, bigPage] = await sample([probe(a, SMALL, page, 10), probe(a, BIG, page, 10)], token, samples);
      log(`page: ${n.toLocaleString('en-US')}-session realm ${describe(bigPage!)}; ${BASELINE_SESSIONS.toLocaleString('en-US')}-session realm ${describe(basePage!)}`);
      const [baseSearch, bigSearch] = await sample([probe(a, SMALL, search, 1), probe(a, BIG, search, 1)], token, samples);
      log(`search: ${n.toLocaleString('en-US')}-session realm ${describe(bigSearch!)}; ${BASELINE_SESSIONS.toLocaleString('en-US')}-session realm ${describe(baseSearch!)}`);
      const [baseLast, bigLast] = await sample([probe(a, SMALL, lastAccess, 10), probe(a, BIG, lastAccess, 10)], token, samples);
      log(`sorted by last access: ${n.toLocaleString('en-US')}-session realm ${describe(bigLast!)}; ${BASELINE_SESSIONS.toLocaleString('en-US')}-session realm ${describe(baseLast!)}`);
      const [baseCidr, bigCidr] = await sample([probe(a, SMALL, cidr, 10), probe(a, BIG, cidr, 10)], token, samples);
      log(`CIDR filter, newest first: ${n.toLocaleString('en-US')}-session realm ${describe(bigCidr!)}; ${BASELINE_SESSIONS.toLocaleString('en-US')}-session realm ${describe(baseCidr!)}`);
      if (n !== SESSIONS_FULL) log(`quick run: ${n.toLocaleString('en-US')} sessions (the metrics keep their 1m names)`);

      return [
        row(NAME, 'admin_page_ms_1m', bigPage!.median, 'ms', basePage!.median),
        row(NAME, 'admin_page_search_ms_1m', bigSearch!.median, 'ms', baseSearch!.median),
        row(NAME, 'admin_page_last_access_ms_1m', bigLast!.median, 'ms', baseLast!.median),
        row(NAME, 'admin_page_cidr_ms_1m', bigCidr!.median, 'ms', baseCidr!.median),
      ];
    } finally {
      await a.stop();
    }
  },
};
