// Micro benchmark of TimerWheel at the scale of one big shard: schedule,
// reschedule and cancel 1 M ids, and expire 1 M entries in virtual time, the
// "mass expiry of 1 M sessions" row of docs/performance.md#targets (< 1 s CPU in total, of
// which the wheel should be a small part).
//
//   npx tsc -p . && node dist/bench/micro/time/timer-wheel.bench.js [rounds]
//
// Deadlines are drawn up front from a fixed-seed generator, so every round and
// every build times the same work. Each scenario runs once to warm up, then
// `rounds` times (default 5); the median and the best round are printed last
// (the best is the steadier figure on a shared machine). Firing is measured
// two ways: one advance() with an unlimited budget (pure throughput), and in
// batches of EXPIRY_BATCH_MAX callbacks as an actor would, reporting the
// longest single call (a batched call also moves at most
// WHEEL_CASCADE_BATCH_MAX entries between levels).

import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { TimerWheel } from '../../../src/time/timer-wheel.js';

const ENTRIES = 1_000_000;
const START_S = 1_800_000_000;
const ROUNDS_DEFAULT = 5;
// Online sessions on a 30-minute idle timeout; offline ones spread over 60 days.
const IDLE_SPREAD_S = 1_800;
const OFFLINE_SPREAD_S = 60 * 86_400;
// What an actor would fire per turn before yielding (docs/code-style.md rule 9).
const EXPIRY_BATCH_MAX = 4_096;

interface Sample {
  opsPerS: number;
  wallMs: number;
  cpuS: number;
  maxCallMs?: number;
  maxCallCpuMs?: number;
  calls?: number;
}

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function deadlines(seed: number, spreadS: number): Uint32Array {
  const random = lcg(seed);
  const out = new Uint32Array(ENTRIES);
  for (let i = 0; i < ENTRIES; i++) out[i] = START_S + 1 + Math.floor(random() * spreadS);
  return out;
}

function shuffledIds(seed: number): Int32Array {
  const random = lcg(seed);
  const ids = new Int32Array(ENTRIES);
  for (let i = 0; i < ENTRIES; i++) ids[i] = i;
  for (let i = ENTRIES - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = swap;
  }
  return ids;
}

function measure(ops: number, body: () => Partial<Sample> | void): Sample {
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const extra = body() ?? {};
  const wallMs = performance.now() - wallBefore;
  const cpu = process.cpuUsage(cpuBefore);
  return { opsPerS: (ops / wallMs) * 1000, wallMs, cpuS: (cpu.user + cpu.system) / 1e6, ...extra };
}

// Ids in random order, as a session table's free list hands them out: the
// lists then link ids scattered over the arrays, as they would in production.
function filledWheel(due: Uint32Array): TimerWheel {
  const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: ENTRIES });
  for (let i = 0; i < ENTRIES; i++) wheel.schedule(randomIds[i]!, due[i]!);
  return wheel;
}

let sink = 0;
function onExpire(id: number, deadlineS: number): void {
  sink = (sink + id + deadlineS) | 0;
}

interface Scenario {
  name: string;
  run(): Sample;
}

const idleDue = deadlines(1, IDLE_SPREAD_S);
const idleDueLater = deadlines(2, IDLE_SPREAD_S);
const offlineDue = deadlines(3, OFFLINE_SPREAD_S);
const randomIds = shuffledIds(4);
const otherRandomIds = shuffledIds(6);
// START_S is a multiple of 256, so START_S + 256 opens the next level-0 block:
// deadlines in [START_S + 256, START_S + 512) all share one level-1 slot.
const BURST_SLOT_START_S = START_S + 256;
const burstDue = deadlines(5, 256).map((deadlineS) => deadlineS + 255);

const scenarios: Scenario[] = [
  {
    name: 'schedule 1M (ids in order, 30 min spread)',
    run: () => {
      const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: ENTRIES });
      return measure(ENTRIES, () => {
        for (let id = 0; id < ENTRIES; id++) wheel.schedule(id, idleDue[id]!);
      });
    },
  },
  {
    // Session slots are reused from a free list, so real ids arrive in no order.
    name: 'schedule 1M (ids in random order)',
    run: () => {
      const wheel = new TimerWheel({ startSecond: START_S, initialCapacity: ENTRIES });
      return measure(ENTRIES, () => {
        for (let i = 0; i < ENTRIES; i++) wheel.schedule(randomIds[i]!, idleDue[i]!);
      });
    },
  },
  {
    name: 'schedule 1M (ids in order, growing from the default capacity)',
    run: () => {
      const wheel = new TimerWheel({ startSecond: START_S });
      return measure(ENTRIES, () => {
        for (let id = 0; id < ENTRIES; id++) wheel.schedule(id, idleDue[id]!);
      });
    },
  },
  {
    name: 'reschedule 1M (random order)',
    run: () => {
      const wheel = filledWheel(idleDue);
      return measure(ENTRIES, () => {
        for (let i = 0; i < ENTRIES; i++) wheel.schedule(otherRandomIds[i]!, idleDueLater[i]!);
      });
    },
  },
  {
    name: 'cancel 1M (random order)',
    run: () => {
      const wheel = filledWheel(idleDue);
      return measure(ENTRIES, () => {
        for (let i = 0; i < ENTRIES; i++) wheel.cancel(otherRandomIds[i]!);
      });
    },
  },
  {
    name: 'fire 1M (30 min spread, one call)',
    run: () => {
      const wheel = filledWheel(idleDue);
      return measure(ENTRIES, () => {
        wheel.advance(START_S + IDLE_SPREAD_S, Infinity, onExpire);
      });
    },
  },
  {
    name: 'fire 1M (60 day spread, jump in one call)',
    run: () => {
      const wheel = filledWheel(offlineDue);
      return measure(ENTRIES, () => {
        wheel.advance(START_S + OFFLINE_SPREAD_S, Infinity, onExpire);
      });
    },
  },
  {
    name: `fire 1M (30 min spread, batches of ${EXPIRY_BATCH_MAX})`,
    run: () => fireInBatches(idleDue, START_S + IDLE_SPREAD_S),
  },
  {
    name: `fire 1M (60 day spread, batches of ${EXPIRY_BATCH_MAX})`,
    run: () => fireInBatches(offlineDue, START_S + OFFLINE_SPREAD_S),
  },
  {
    // The worst case for one slot: a burst of 1 M deadlines inside the same
    // 256 s (one level-1 slot), moved down whole by one unlimited call to the
    // slot's first second (which also fires the ~1/256 due exactly then).
    name: 'cascade 1M from one level-1 slot (one unlimited call)',
    run: () => {
      const wheel = filledWheel(burstDue);
      return measure(ENTRIES, () => {
        wheel.advance(BURST_SLOT_START_S, Infinity, onExpire);
      });
    },
  },
  {
    name: `cascade 1M from one level-1 slot (batches of ${EXPIRY_BATCH_MAX})`,
    run: () => fireInBatches(burstDue, BURST_SLOT_START_S),
  },
];

function fireInBatches(due: Uint32Array, targetS: number): Sample {
  const wheel = filledWheel(due);
  return measure(ENTRIES, () => {
    // Wall time of a call includes any preemption on a busy machine; its CPU
    // time does not, so both are kept.
    let maxCallMs = 0;
    let maxCallCpuMs = 0;
    let calls = 0;
    for (;;) {
      const cpuBefore = process.cpuUsage();
      const before = performance.now();
      const done = wheel.advance(targetS, EXPIRY_BATCH_MAX, onExpire);
      maxCallMs = Math.max(maxCallMs, performance.now() - before);
      const cpu = process.cpuUsage(cpuBefore);
      maxCallCpuMs = Math.max(maxCallCpuMs, (cpu.user + cpu.system) / 1000);
      calls++;
      if (done) break;
    }
    return { maxCallMs, maxCallCpuMs, calls };
  });
}

function format(sample: Sample): string {
  const parts = [
    `${(sample.opsPerS / 1e6).toFixed(2).padStart(6)} M ops/s`,
    `wall ${sample.wallMs.toFixed(1).padStart(7)} ms`,
    `cpu ${sample.cpuS.toFixed(3)} s`,
  ];
  if (sample.calls !== undefined) {
    const longest = `longest ${sample.maxCallMs!.toFixed(2)} ms wall, ${sample.maxCallCpuMs!.toFixed(2)} ms cpu`;
    parts.push(`${sample.calls} calls, ${longest}`);
  }
  return parts.join('  ');
}

function main(): void {
  const rounds = Number(process.argv[2] ?? ROUNDS_DEFAULT);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(`rounds must be a positive integer, got ${process.argv[2]}`);
  }
  const cpus = os.cpus();
  const machine = `${os.platform()} ${os.arch()}, ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}`;
  console.log(`timer-wheel micro bench: node ${process.version}, ${machine}`);
  console.log(`${ENTRIES} entries, ${rounds} rounds after one warm-up; median and best last\n`);
  for (const scenario of scenarios) {
    scenario.run();
    const samples: Sample[] = [];
    for (let round = 0; round < rounds; round++) samples.push(scenario.run());
    console.log(scenario.name);
    for (const sample of samples) console.log(`    ${format(sample)}`);
    const byWall = [...samples].sort((a, b) => a.wallMs - b.wallMs);
    console.log(`  median ${format(byWall[Math.floor(byWall.length / 2)]!)}`);
    console.log(`  best   ${format(byWall[0]!)}\n`);
  }
  // Makes the callbacks' work observable, so the JIT cannot drop it.
  if (sink === 42) console.log('');
}

main();
