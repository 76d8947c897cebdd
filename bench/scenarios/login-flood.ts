// login-flood: one address floods the password grant with wrong passwords
// while legitimate users log in at a steady pace (docs/performance.md#targets:
// the legitimate logins keep >= 0.9x their rate without the flood).
//
//   legit_login_success_ratio   successful legitimate logins per second during
//                               the flood / the same without it (runs taking
//                               turns on the same node)
//   legit_login_rps_during_flood  the same figure as a rate, the no-flood rate
//                               beside it as the baseline
//   legit_login_success_ratio_without_admission
//                               the same ratio on a second node started with
//                               --login-rate-limit 0: what the per-address
//                               admission protects against (context, no target)
//
// Addresses: the node runs behind a (simulated) reverse proxy,
// `--proxy-headers xforwarded --proxy-trusted-addresses 127.0.0.1`, and every
// request carries X-Forwarded-For: the flood one address, each legitimate user
// an address of its own. That is how a real deployment tells its clients apart,
// and the only way one generator process can be many clients.
//
// The node keeps its default admission (--login-rate-limit 50 per 10 s per
// address). Users hash with PBKDF2-SHA512 at 210,000 iterations, so that a
// login costs what it costs in production (~65 ms of a core here); the realm
// leaves brute-force detection off, so that the flood's wrong passwords (aimed
// at the same users) cost hashes rather than locking the users out.

import { row, type Row, type Scenario } from '../lib/scenario.js';
import { combineLoads, describeLoad, runLoad, type LoadRequest, type LoadResult } from '../http/load.js';
import { stopAll } from '../http/processes.js';
import { errorRows, latencyRows } from '../http/report.js';
import { form } from '../http/requests.js';
import { httpBench, type HttpBench } from '../http/setup.js';
import { paths, startLocalNode, type LocalNode, type Target } from '../http/target.js';

const NAME = 'login-flood';
const ITERATIONS = 210_000;
/**
 * Legitimate load: 4 connections at 1 login/s each = 4 logins/s, about a
 * quarter of this 2-core machine's hashing ceiling when it is quiet (~15/s,
 * http-password): a busy login service, not a saturated one, so that the
 * figure shows what the flood takes away.
 */
const LEGIT_CONNECTIONS = 4;
const LEGIT_RATE_PER_CONNECTION = 1;
/**
 * The flood: 16 connections at up to 20 requests/s each (320/s) from one
 * address, 64x the admission limit. An admitted wrong password holds its
 * connection for a hash, so the connections, not the pace, bound what the
 * flood gets in; paced anyway, because the generator shares the machine's
 * two cores with the server and, unpaced, would measure its own CPU theft.
 */
const FLOOD_CONNECTIONS = 16;
const FLOOD_RATE_PER_CONNECTION = 20;
const FLOOD_ADDRESS = '198.51.100.66';
/** Seconds per measured side (split into rounds that take turns); quick runs use one round. */
const DURATION_S = 20;
const DURATION_QUICK_S = 6;
const ROUNDS = 2;
const WARMUP_S = 2;
const USERS = 200;

/** Each legitimate user's own address (TEST-NET-3), from its index. */
function legitAddress(user: number): string {
  return `203.0.${113 + (user >> 8)}.${user & 255}`;
}

function legitRequest(target: Target, realm: string): LoadRequest {
  let next = 0;
  return {
    method: 'POST',
    path: paths.token(target, realm),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization },
    setupRequest: (req) => {
      const user = next;
      next = (next + 1) % target.users;
      req.body = form({ grant_type: 'password', username: `${target.usersPrefix}${user}`, password: target.password, scope: 'openid' });
      req.headers = { ...req.headers, 'x-forwarded-for': legitAddress(user) };
      return req;
    },
  };
}

function floodRequest(target: Target, realm: string): LoadRequest {
  const bodies = Array.from({ length: target.users }, (_, i) => form({ grant_type: 'password', username: `${target.usersPrefix}${i}`, password: 'not-the-password', scope: 'openid' }));
  let next = 0;
  return {
    method: 'POST',
    path: paths.token(target, realm),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: target.authorization, 'x-forwarded-for': FLOOD_ADDRESS },
    setupRequest: (req) => {
      req.body = bodies[next]!;
      next = (next + 1) % bodies.length;
      return req;
    },
  };
}

async function startNode(b: HttpBench, admission: boolean): Promise<LocalNode> {
  const spec = {
    name: 'login-flood',
    algorithm: 'ES256' as const,
    users: USERS,
    usersPrefix: b.opts.usersPrefix,
    password: b.opts.password,
    hashIterations: b.opts.hashIterations ?? ITERATIONS,
    client: b.opts.client,
    secret: b.opts.secret,
  };
  // With admission: the node's defaults, spelled out (the bench's node start turns the limit off otherwise).
  const args = ['--proxy-headers', 'xforwarded', '--proxy-trusted-addresses', '127.0.0.1', '--login-rate-limit', admission ? '50' : '0', '--login-rate-window-seconds', '10'];
  return startLocalNode([spec], b.opts, b.log, args);
}

function legitRun(node: LocalNode, label: string, durationS: number, progress: HttpBench['progress'] | null): Promise<LoadResult> {
  return runLoad({
    label,
    origin: node.target.origin,
    connections: LEGIT_CONNECTIONS,
    connectionRate: LEGIT_RATE_PER_CONNECTION,
    durationS,
    requests: [legitRequest(node.target, 'login-flood')],
    timeoutS: 30,
    progress,
    serverPid: node.process.pid,
  });
}

function floodRun(node: LocalNode, durationS: number): Promise<LoadResult> {
  return runLoad({
    label: 'flood',
    origin: node.target.origin,
    connections: FLOOD_CONNECTIONS,
    connectionRate: FLOOD_RATE_PER_CONNECTION,
    durationS,
    requests: [floodRequest(node.target, 'login-flood')],
    timeoutS: 30,
    progress: null,
  });
}

/** Legitimate logins alone, then with the flood, in turns; the flooded side's flood run too. */
async function alternate(b: HttpBench, node: LocalNode, sideS: number, rounds: number): Promise<{ calm: LoadResult[]; flooded: LoadResult[]; floods: LoadResult[] }> {
  const out = { calm: [] as LoadResult[], flooded: [] as LoadResult[], floods: [] as LoadResult[] };
  for (let round = 1; round <= rounds; round++) {
    out.calm.push(await legitRun(node, `legit, no flood (${round}/${rounds})`, sideS / rounds, b.progress));
    const [legit, flood] = await Promise.all([legitRun(node, `legit, flood (${round}/${rounds})`, sideS / rounds, b.progress), floodRun(node, sideS / rounds)]);
    out.flooded.push(legit);
    out.floods.push(flood);
  }
  return out;
}

function total(runs: readonly LoadResult[]): { ok: number; seconds: number; responses: number; statuses: Record<string, number> } {
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  return { ok: runs.reduce((n, r) => n + r.ok, 0), seconds: runs.reduce((n, r) => n + r.seconds, 0), responses: runs.reduce((n, r) => n + r.responses, 0), statuses };
}

function rate(runs: readonly LoadResult[]): number {
  const t = total(runs);
  return t.seconds > 0 ? t.ok / t.seconds : 0;
}

export const loginFlood: Scenario = {
  name: NAME,
  description: 'legitimate password logins while one address floods wrong passwords: their rate vs without the flood (per-address admission)',
  async run(options) {
    const b = httpBench(NAME, options);
    if (b.opts.target !== null) throw new Error('login-flood runs against its own local nodes (it needs their proxy-header settings); --target is not supported');
    const sideS = b.quick ? DURATION_QUICK_S : DURATION_S;
    const rounds = b.quick ? 1 : ROUNDS;
    let guarded: LocalNode | null = null;
    let open: LocalNode | null = null;
    try {
      guarded = await startNode(b, true);
      await legitRun(guarded, 'legit (warm-up)', b.quick ? 1 : WARMUP_S, null);
      const main = await alternate(b, guarded, sideS, rounds);
      for (const r of [...main.calm, ...main.flooded, ...main.floods]) b.log(describeLoad(r));
      await guarded.stop();
      guarded = null;

      // The same flood on a node without per-address admission.
      open = await startNode(b, false);
      await legitRun(open, 'legit (warm-up, no admission)', b.quick ? 1 : WARMUP_S, null);
      const [openLegit, openFlood] = await Promise.all([legitRun(open, 'legit, flood, no admission', sideS / rounds, b.progress), floodRun(open, sideS / rounds)]);
      b.log(describeLoad(openLegit));
      b.log(describeLoad(openFlood));

      const calm = rate(main.calm);
      const flooded = rate(main.flooded);
      const floods = total(main.floods);
      const refused = floods.statuses['429'] ?? 0;
      const legitFlooded = combine(main.flooded);
      const legitCalm = combine(main.calm);
      b.log(`legit ${calm.toFixed(2)}/s without the flood, ${flooded.toFixed(2)}/s with it; flood ${(floods.responses / floods.seconds).toFixed(0)}/s, ${refused} of ${floods.responses} refused (429)`);
      const rows: Row[] = [
        row(NAME, 'legit_login_success_ratio', calm > 0 ? flooded / calm : 0, 'x'),
        row(NAME, 'legit_login_rps_during_flood', flooded, 'req/s', calm),
        row(NAME, 'legit_login_success_ratio_without_admission', calm > 0 ? openLegit.rps / calm : 0, 'x'),
        row(NAME, 'flood_rps', floods.seconds > 0 ? floods.responses / floods.seconds : 0, 'req/s'),
        row(NAME, 'flood_refused_ratio', floods.responses > 0 ? refused / floods.responses : 0, 'x'),
        ...latencyRows(NAME, 'legit_during_flood', legitFlooded, legitCalm),
        ...errorRows(NAME, 'legit_during_flood', legitFlooded),
        ...errorRows(NAME, 'legit_without_admission', openLegit),
      ];
      return rows;
    } finally {
      await stopAll([guarded, open]);
    }
  },
};

/** The rounds of one side as one result (counts added, latencies pooled). */
function combine(parts: readonly LoadResult[]): LoadResult {
  return parts.length === 1 ? parts[0]! : combineLoads(parts[0]!.label.replace(/ \(\d+\/\d+\)$/, ''), parts);
}
