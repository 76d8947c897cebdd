// What the scenarios measure from a workload history, beside the checker's
// verdict: which requests the service failed and when, how long after a
// fault requests kept failing, and which answers a node gave when it should
// have given none. All times are the workload clock (workload.ts clock()).
//
// A request the service failed is one that ended 'unknown' (5xx, timeout,
// connection error), or 'fail' (4xx) when it was not a deliberate probe: a
// correct cluster refuses only replayed tokens and codes (and the logout
// after a replay). Verification requests are not load: they are excluded.

import type { HistoryEntry } from './history-checker.js';

export interface Range {
  /** Only requests to these nodes (default: all). */
  nodes?: readonly string[];
  /** Invoked at or after (default: any time). */
  from?: number;
  /** Invoked before (default: any time). */
  to?: number;
}

function within(e: HistoryEntry, r: Range): boolean {
  return (r.nodes === undefined || r.nodes.includes(e.node)) && e.invokeMs >= (r.from ?? -Infinity) && e.invokeMs < (r.to ?? Infinity);
}

/** Requests of the load the service failed (unknown outcomes and unexpected refusals). */
export function failedRequests(history: readonly HistoryEntry[], range: Range = {}): HistoryEntry[] {
  return history.filter((e) => e.op !== 'verify' && within(e, range) && (e.outcome === 'unknown' || (e.outcome === 'fail' && e.probe !== true)));
}

/** Requests of the load in the range (verification excluded). */
export function requests(history: readonly HistoryEntry[], range: Range = {}): HistoryEntry[] {
  return history.filter((e) => e.op !== 'verify' && within(e, range));
}

/**
 * How long after a fault at `faultMs` requests kept failing: the invoke time
 * of the last failed request in the range, minus the fault time (0 when none
 * failed). Every request invoked later than that succeeded.
 */
export function failureWindowMs(history: readonly HistoryEntry[], faultMs: number, range: Range = {}): number {
  const failed = failedRequests(history, { ...range, from: range.from ?? faultMs });
  return failed.reduce((max, e) => Math.max(max, e.invokeMs - faultMs), 0);
}

/**
 * 2xx answers of a node to requests invoked at or after `from` and answered
 * before `to`: what it decided to serve within that time (a request invoked
 * earlier may have been decided earlier, so it proves nothing).
 */
export function servedBy(history: readonly HistoryEntry[], node: string, from: number, to: number): HistoryEntry[] {
  return history.filter((e) => e.node === node && e.outcome === 'ok' && e.invokeMs >= from && e.completeMs < to);
}

/** A short, readable list of entries for an assertion message. */
export function describe(entries: readonly HistoryEntry[], max = 10): string {
  const shown = entries.slice(0, max).map((e) => `${e.op}@${e.node} ${e.invokeMs}→${e.completeMs} ${e.outcome}${e.status !== undefined ? ` ${e.status}` : ''}${e.detail !== undefined ? ` (${e.detail})` : ''}`);
  return `${entries.length} request(s)${entries.length > 0 ? `: ${shown.join('; ')}${entries.length > max ? '; …' : ''}` : ''}`;
}
