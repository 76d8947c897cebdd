// One load run through autocannon's programmatic API, with our own
// recording on top of its events:
//
// - Latency is kept per response as autocannon measured it (ms, float, from
//   request write to the end of the response) and its percentiles computed
//   exactly; autocannon's own histogram has 1 ms resolution and counts only
//   2xx, which hides sub-millisecond p50s and slow errors.
// - Only responses that arrive inside the run's window count, and the rate is
//   divided by the window: autocannon stops on its next 1-second tick, so its
//   own duration can run over by up to a second.
// - Every second a progress line (rps, p99 of that second, errors so far)
//   goes to stderr through `progress`.
// - CPU: the generator's own (process.cpuUsage) and, given the server's pid,
//   the server process's (all its threads, from /proc/<pid>/stat), so a run
//   also says how many CPU microseconds each request cost the server: on a
//   shared 2-core machine that is steadier than the rate, and it shows when
//   the generator, not the server, is short of CPU.
// - Requests may carry a `step` name (LoadRequest.step): latencies are then
//   also kept per step. autocannon emits `response` before it moves the
//   connection to its next request, so the connection's current request is
//   the one answered.

import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { formatNumber } from '../lib/data.js';
import { percentile } from '../lib/stats.js';

export type LoadRequest = autocannon.Request & { step?: string };

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux build that matters). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) a process has used, every thread, or with
 * `mainThread` its main thread only (the event loop, which bounds a Node
 * server's rate); null off Linux or when it is gone.
 */
export function processCpuSeconds(pid: number, mainThread = false): number | null {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

export interface LoadSpec {
  label: string;
  /** `http://host:port` */
  origin: string;
  connections: number;
  /** Seconds to run; or `amount`: a fixed number of requests (pool building). */
  durationS?: number;
  amount?: number;
  /** The request sequence each connection loops over (autocannon `requests`). */
  requests: LoadRequest[];
  /** Per-request timeout in seconds (autocannon's default is 10). */
  timeoutS?: number;
  /** Live progress lines; null: silent. */
  progress: ((line: string) => void) | null;
  /** The server's pid, for its CPU use (local servers only). */
  serverPid?: number | undefined;
  /** Requests per second per connection at most (autocannon connectionRate); default: as fast as answered. */
  connectionRate?: number;
  /** Requests in flight per connection (autocannon pipelining); default 1. */
  pipelining?: number;
}

export interface StepResult {
  responses: number;
  ok: number;
  latency: Latency;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadResult {
  label: string;
  connections: number;
  /** The window the rates are taken over. */
  seconds: number;
  responses: number;
  /** 2xx responses. */
  ok: number;
  /** 2xx responses per second. */
  rps: number;
  /** Every response, any status (ms). */
  latency: Latency;
  /** Responses by status code. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Connection errors other than timeouts (resets, refused). */
  socketErrors: number;
  timeouts: number;
  /** Request sequences restarted because a setupRequest found nothing to send (a broken flow). */
  resets: number;
  /** non2xx + socketErrors + timeouts: what no run may have. */
  errors: number;
  /** Cores the generator kept busy (CPU seconds / wall seconds). */
  generatorCores: number;
  /** Cores the server process kept busy, or null (remote target, not Linux). */
  serverCores: number | null;
  /** Server CPU microseconds per response, or null. */
  serverCpuUsPerResponse: number | null;
  /** The same for the server's main thread (event loop) alone, or null. */
  serverMainCpuUsPerResponse: number | null;
  /** Latency per request step, when the requests carry step names. */
  steps: Record<string, StepResult>;
  /** Raw figures, for combining the rounds of one interleaved measurement (combineLoads). */
  raw: {
    latencies: Float64Array;
    stepLatencies: Record<string, { latencies: Float64Array; ok: number }>;
    wall: number;
    generatorCpu: number;
    serverCpu: number | null;
    serverMainCpu: number | null;
  };
}

class Samples {
  #data = new Float64Array(1 << 16);
  length = 0;

  push(v: number): void {
    if (this.length === this.#data.length) {
      const grown = new Float64Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.length++] = v;
  }

  view(from = 0): Float64Array {
    return this.#data.subarray(from, this.length);
  }
}

function latencyOf(values: Float64Array): Latency {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return { p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99), max };
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if ((spec.durationS === undefined) === (spec.amount === undefined)) throw new RangeError('give durationS or amount');
  const samples = new Samples();
  const statuses: Record<string, number> = {};
  let ok = 0;
  let socketErrors = 0;
  let timeouts = 0;
  let lastResponseAt = 0;
  let fatal: unknown = null;
  const stepSamples = new Map<string, { samples: Samples; ok: number }>();

  const options: autocannon.Options = {
    url: spec.origin,
    connections: spec.connections,
    requests: spec.requests,
    timeout: spec.timeoutS ?? 10,
    ...(spec.connectionRate !== undefined ? { connectionRate: spec.connectionRate } : {}),
    ...(spec.pipelining !== undefined ? { pipelining: spec.pipelining } : {}),
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.durationS! }),
  };
  const cpuBefore = process.cpuUsage();
  const serverCpuBefore = spec.serverPid === undefined ? null : processCpuSeconds(spec.serverPid);
  const serverMainBefore = spec.serverPid === undefined ? null : processCpuSeconds(spec.serverPid, true);
  let serverCpuAtEnd: number | null = null;
  let serverMainAtEnd: number | null = null;
  const started = performance.now();
  const windowEnd = spec.durationS !== undefined ? started + spec.durationS * 1000 : Number.POSITIVE_INFINITY;
  // Without a callback autocannon returns its event emitter, made thenable (its typings only say Promise).
  const instance = autocannon(options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    const now = performance.now();
    if (now > windowEnd) return;
    lastResponseAt = now;
    samples.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    const good = statusCode >= 200 && statusCode < 300;
    if (good) ok++;
    const step = (client as { requestIterator?: { currentRequest?: LoadRequest } }).requestIterator?.currentRequest?.step;
    if (step !== undefined) {
      let s = stepSamples.get(step);
      if (s === undefined) stepSamples.set(step, (s = { samples: new Samples(), ok: 0 }));
      s.samples.push(responseTime);
      if (good) s.ok++;
    }
  });
  instance.on('reqError', (err: unknown) => {
    if (performance.now() > windowEnd) return;
    if (err instanceof Error && err.message === 'request timed out') timeouts++;
    else socketErrors++;
  });
  instance.on('error', (err: unknown) => {
    fatal = err;
  });

  // The server's CPU is read when the window closes, not when autocannon is done (up to a second later).
  const windowTimer =
    serverCpuBefore === null || spec.durationS === undefined
      ? null
      : setTimeout(() => {
          serverCpuAtEnd = processCpuSeconds(spec.serverPid!);
          serverMainAtEnd = processCpuSeconds(spec.serverPid!, true);
        }, spec.durationS * 1000);
  let mark = 0;
  let second = 0;
  const ticker =
    spec.progress === null
      ? null
      : setInterval(() => {
          second++;
          const recent = samples.view(mark);
          mark = samples.length;
          const p99 = recent.length > 0 ? percentile(recent, 99) : 0;
          const errors = samples.length - ok + socketErrors + timeouts;
          spec.progress!(`${spec.label} ${String(second).padStart(3)}s  rps ${formatNumber(recent.length).padStart(6)}  p99 ${p99.toFixed(1).padStart(6)} ms  errors ${errors}`);
        }, 1000);
  let result: autocannon.Result;
  try {
    result = await instance;
  } finally {
    if (ticker !== null) clearInterval(ticker);
    if (windowTimer !== null) clearTimeout(windowTimer);
  }
  if (fatal !== null) throw fatal;
  if (spec.serverPid !== undefined && serverCpuAtEnd === null) {
    // autocannon finished before the window timer fired (or the run had no window): read now.
    serverCpuAtEnd = processCpuSeconds(spec.serverPid);
    serverMainAtEnd = processCpuSeconds(spec.serverPid, true);
  }
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);

  const seconds = spec.durationS ?? (lastResponseAt - started) / 1000;
  const serverCpu = serverCpuBefore === null || serverCpuAtEnd === null ? null : serverCpuAtEnd - serverCpuBefore;
  const serverMain = serverMainBefore === null || serverMainAtEnd === null ? null : serverMainAtEnd - serverMainBefore;
  const stepLatencies: LoadResult['raw']['stepLatencies'] = {};
  for (const [name, s] of stepSamples) stepLatencies[name] = { latencies: s.samples.view().slice(), ok: s.ok };
  return summarize(spec.label, spec.connections, seconds, statuses, ok, socketErrors, timeouts, result.resets ?? 0, {
    latencies: samples.view().slice(),
    stepLatencies,
    wall,
    generatorCpu: (cpu.user + cpu.system) / 1e6,
    serverCpu,
    serverMainCpu: serverMain,
  });
}

function summarize(
  label: string,
  connections: number,
  seconds: number,
  statuses: Record<string, number>,
  ok: number,
  socketErrors: number,
  timeouts: number,
  resets: number,
  raw: LoadResult['raw'],
): LoadResult {
  const responses = raw.latencies.length;
  const non2xx = responses - ok;
  const steps: Record<string, StepResult> = {};
  for (const [name, s] of Object.entries(raw.stepLatencies)) steps[name] = { responses: s.latencies.length, ok: s.ok, latency: latencyOf(s.latencies) };
  return {
    label,
    connections,
    seconds,
    responses,
    ok,
    rps: seconds > 0 ? ok / seconds : 0,
    latency: latencyOf(raw.latencies),
    statuses,
    non2xx,
    socketErrors,
    timeouts,
    resets,
    errors: non2xx + socketErrors + timeouts,
    generatorCores: raw.generatorCpu / raw.wall,
    serverCores: raw.serverCpu === null ? null : raw.serverCpu / seconds,
    serverCpuUsPerResponse: raw.serverCpu === null || responses === 0 ? null : (raw.serverCpu * 1e6) / responses,
    serverMainCpuUsPerResponse: raw.serverMainCpu === null || responses === 0 ? null : (raw.serverMainCpu * 1e6) / responses,
    steps,
    raw,
  };
}

function concat(arrays: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** The rounds of one interleaved measurement as one run: counts and CPU added, latencies pooled. */
export function combineLoads(label: string, parts: readonly LoadResult[]): LoadResult {
  if (parts.length === 1) return { ...parts[0]!, label };
  const statuses: Record<string, number> = {};
  for (const p of parts) for (const [code, n] of Object.entries(p.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
  const sum = (f: (p: LoadResult) => number): number => parts.reduce((n, p) => n + f(p), 0);
  const sumOrNull = (f: (p: LoadResult) => number | null): number | null => (parts.some((p) => f(p) === null) ? null : sum((p) => f(p)!));
  const stepNames = [...new Set(parts.flatMap((p) => Object.keys(p.raw.stepLatencies)))];
  const stepLatencies: LoadResult['raw']['stepLatencies'] = {};
  for (const name of stepNames) {
    const present = parts.map((p) => p.raw.stepLatencies[name]).filter((s) => s !== undefined);
    stepLatencies[name] = { latencies: concat(present.map((s) => s.latencies)), ok: present.reduce((n, s) => n + s.ok, 0) };
  }
  return summarize(label, parts[0]!.connections, sum((p) => p.seconds), statuses, sum((p) => p.ok), sum((p) => p.socketErrors), sum((p) => p.timeouts), sum((p) => p.resets), {
    latencies: concat(parts.map((p) => p.raw.latencies)),
    stepLatencies,
    wall: sum((p) => p.raw.wall),
    generatorCpu: sum((p) => p.raw.generatorCpu),
    serverCpu: sumOrNull((p) => p.raw.serverCpu),
    serverMainCpu: sumOrNull((p) => p.raw.serverMainCpu),
  });
}

/** One line for the log: rate, latency, statuses, errors. */
export function describeLoad(r: LoadResult): string {
  const statuses = Object.entries(r.statuses)
    .map(([code, n]) => `${code}x${n}`)
    .join(' ');
  return (
    `${r.label}: ${formatNumber(r.rps)} req/s (2xx) over ${r.seconds.toFixed(1)} s at ${r.connections} connections; ` +
    `latency p50 ${r.latency.p50.toFixed(2)} p90 ${r.latency.p90.toFixed(2)} p99 ${r.latency.p99.toFixed(2)} max ${r.latency.max.toFixed(1)} ms; ` +
    `statuses ${statuses || 'none'}; socket errors ${r.socketErrors}, timeouts ${r.timeouts}, resets ${r.resets}; ` +
    `CPU: generator ${r.generatorCores.toFixed(2)} cores` +
    (r.serverCores === null
      ? ''
      : `, server ${r.serverCores.toFixed(2)} cores = ${(r.serverCpuUsPerResponse?.toFixed(0) ?? '?')} us per response (main thread ${r.serverMainCpuUsPerResponse?.toFixed(0) ?? '?'} us)`) +
    Object.entries(r.steps)
      .map(([name, s]) => `\n  step ${name}: ${s.ok}/${s.responses} ok, p50 ${s.latency.p50.toFixed(2)} p99 ${s.latency.p99.toFixed(2)} ms`)
      .join('')
  );
}

/** A progress sink that writes `[scenario] line` to stderr (live only: not kept in the results file). */
export function stderrProgress(scenario: string): (line: string) => void {
  return (line) => process.stderr.write(`[${scenario}] ${line}\n`);
}
