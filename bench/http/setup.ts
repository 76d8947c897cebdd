// What every http-* scenario does first and last: read its options, aim at a
// local node (started with generated realms) or the --target, and measure
// runs with a warm-up in front of each (JIT and connection set-up are not
// what the figure is about).

import type { SignatureAlgorithm } from '../../src/realm/model.js';
import type { ScenarioOptions } from '../lib/scenario.js';
import { combineLoads, describeLoad, runLoad, stderrProgress, type LoadRequest, type LoadResult } from './load.js';
import { parseHttpOptions, type HttpOptions } from './options.js';
import { externalTarget, startLocalNode, type LocalNode, type Target } from './target.js';

const WARMUP_S = 2;
const WARMUP_QUICK_S = 1;
/** Rounds a measured duration is split into when loads take turns (measureInterleaved). */
const ROUNDS = 2;
const ROUNDS_QUICK = 1;
/** PBKDF2 iterations of generated users outside http-password: logins for the token pools stay cheap. */
export const POOL_HASH_ITERATIONS = 1000;

export interface HttpBench {
  scenario: string;
  opts: HttpOptions;
  quick: boolean;
  log: (line: string) => void;
  progress: (line: string) => void;
}

export function httpBench(scenario: string, { quick, log, flags }: ScenarioOptions): HttpBench {
  return { scenario, opts: parseHttpOptions(flags ?? {}, quick), quick, log, progress: stderrProgress(scenario) };
}

export interface RealmChoice {
  name: string;
  algorithm: SignatureAlgorithm;
}

export interface TargetSetup {
  target: Target;
  /** The realms to drive: the generated ones, or --realm. */
  realms: string[];
  local: LocalNode | null;
  stop(): Promise<void>;
}

/** A local node with `realms` (same client and users in each), or the --target with its one realm. */
export async function setupTarget(b: HttpBench, realms: readonly RealmChoice[], hashIterations: number): Promise<TargetSetup> {
  const o = b.opts;
  if (o.target !== null) {
    b.log(`target ${o.target}, realm ${o.realm!}, client ${o.client}, users ${o.usersPrefix}0..${o.users - 1}`);
    return { target: externalTarget(o), realms: [o.realm!], local: null, stop: async () => {} };
  }
  const specs = realms.map((r) => ({
    name: r.name,
    algorithm: r.algorithm,
    users: o.users,
    usersPrefix: o.usersPrefix,
    password: o.password,
    hashIterations: o.hashIterations ?? hashIterations,
    client: o.client,
    secret: o.secret,
  }));
  const local = await startLocalNode(specs, o, b.log);
  return { target: local.target, realms: realms.map((r) => r.name), local, stop: () => local.stop() };
}

export interface Measured {
  label: string;
  origin: string;
  /** Called once for the warm-up and once for the run: fresh request state (counters, tallies) each time. */
  requests: () => LoadRequest[];
  /** The server process, for its CPU per request (local servers). */
  server?: { pid: number | undefined } | null;
}

/**
 * Measures several loads (a subject and its baselines) back to back with the
 * same connections and the same total duration: each is warmed up once,
 * then they take turns in ROUNDS rounds of duration/ROUNDS seconds (bare,
 * subject, bare, subject, ...), so that a change in what else runs on the
 * machine lands on all of them rather than on whichever ran last. Each
 * result adds up its rounds; each is logged.
 */
export async function measureInterleaved(b: HttpBench, runs: readonly Measured[]): Promise<LoadResult[]> {
  const connections = b.opts.connections;
  const rounds = b.quick ? ROUNDS_QUICK : ROUNDS;
  for (const m of runs) {
    await runLoad({ label: `${m.label} (warm-up)`, origin: m.origin, connections, durationS: b.quick ? WARMUP_QUICK_S : WARMUP_S, requests: m.requests(), progress: null });
  }
  const parts: LoadResult[][] = runs.map(() => []);
  for (let round = 1; round <= rounds; round++) {
    for (const [i, m] of runs.entries()) {
      const label = rounds === 1 ? m.label : `${m.label} (${round}/${rounds})`;
      parts[i]!.push(await runLoad({ label, origin: m.origin, connections, durationS: b.opts.duration / rounds, requests: m.requests(), progress: b.progress, serverPid: m.server?.pid }));
    }
  }
  return runs.map((m, i) => {
    const result = combineLoads(m.label, parts[i]!);
    b.log(describeLoad(result));
    return result;
  });
}

/** One measured run (after a warm-up of the same load), logged. */
export async function measure(b: HttpBench, m: Measured): Promise<LoadResult> {
  return (await measureInterleaved(b, [m]))[0]!;
}
