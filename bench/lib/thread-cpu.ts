// CPU time of the calling process's main thread, in ms with nanosecond
// resolution, from /proc/<pid>/task/<pid>/schedstat (first field: time spent
// on a CPU, ns). On this shared 2-core machine other jobs can take most of
// the CPU for seconds at a time; a tight single-threaded loop timed by its
// own on-CPU time is unaffected by that, where wall time is not. Node 20 has
// no process.threadCpuUsage(), and /proc/.../stat counts in 10 ms ticks.

import { readFileSync } from 'node:fs';

const SCHEDSTAT = `/proc/${process.pid}/task/${process.pid}/schedstat`;

/** Main-thread CPU ms so far, or null off Linux. */
export function mainThreadCpuMs(): number | null {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/** Wall and main-thread CPU ms of a synchronous loop (CPU falls back to wall off Linux). */
export function timed(fn: () => void): { wallMs: number; cpuMs: number } {
  const cpu0 = mainThreadCpuMs();
  const t0 = performance.now();
  fn();
  const wallMs = performance.now() - t0;
  const cpu1 = mainThreadCpuMs();
  return { wallMs, cpuMs: cpu0 === null || cpu1 === null ? wallMs : cpu1 - cpu0 };
}
