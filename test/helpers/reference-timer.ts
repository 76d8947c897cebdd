// The naive twin of src/time/timer-wheel.ts (docs/code-style.md rule 18; Kafka's
// MockTimer): the same API over a Map from id to deadline, written to be
// obviously correct rather than fast. advance() rescans the whole map before
// every firing and fires the smallest due deadline, so it is O(n) per fired
// entry; keep it to test-sized n.
//
// Semantics it pins down for the wheel:
// - the timer's time only moves forwards: advance(t) works at max(t, currentSecond);
// - everything with deadline <= that time is due, including entries a callback
//   schedules during the same call;
// - an entry is unscheduled before its callback runs;
// - at most `budget` callbacks per call; the result says whether anything due
//   is left.

import type { TimerWheelOptions } from '../../src/time/timer-wheel.js';

export class ReferenceTimer {
  readonly #deadlines = new Map<number, number>();
  #nowS: number;

  // Takes the wheel's options so either can be built from the same call; only
  // startSecond means anything here.
  constructor(options: TimerWheelOptions) {
    this.#nowS = options.startSecond;
  }

  get size(): number {
    return this.#deadlines.size;
  }

  get currentSecond(): number {
    return this.#nowS;
  }

  schedule(id: number, deadlineSecond: number): void {
    this.#deadlines.set(id, deadlineSecond);
  }

  cancel(id: number): boolean {
    return this.#deadlines.delete(id);
  }

  isScheduled(id: number): boolean {
    return this.#deadlines.has(id);
  }

  deadlineOf(id: number): number {
    return this.#deadlines.get(id) ?? -1;
  }

  advance(nowSecond: number, budget: number, onExpire: (id: number, deadlineSecond: number) => void): boolean {
    this.#nowS = Math.max(this.#nowS, nowSecond);
    let fired = 0;
    for (;;) {
      const earliest = this.#earliest();
      if (earliest === undefined || earliest[1] > this.#nowS) return true;
      if (fired >= budget) return false;
      const [id, deadlineS] = earliest;
      this.#deadlines.delete(id);
      fired++;
      onExpire(id, deadlineS);
    }
  }

  // Exact, which is the tightest lower bound the wheel's hint may give.
  nextDueHint(): number {
    return this.#earliest()?.[1] ?? -1;
  }

  clear(): void {
    this.#deadlines.clear();
  }

  // For tests that compare state entry by entry.
  entries(): Array<[id: number, deadlineSecond: number]> {
    return [...this.#deadlines];
  }

  #earliest(): [number, number] | undefined {
    let best: [number, number] | undefined;
    for (const entry of this.#deadlines) {
      if (best === undefined || entry[1] < best[1]) best = entry;
    }
    return best;
  }
}
