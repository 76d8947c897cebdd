// Goal: the scenarios' measures read a history right: what counts as a failed
// request (unknown outcomes and unexpected refusals; never a deliberate
// probe or a verification), the failure window after a fault, and what a
// node served in a time range. Method: small hand-written histories.

import test from 'ava';
import { failedRequests, failureWindowMs, requests, servedBy } from './availability.js';
import type { HistoryEntry } from './history-checker.js';

const e = (op: HistoryEntry['op'], node: string, invokeMs: number, outcome: HistoryEntry['outcome'], extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
  op, session: 's', node, invokeMs, completeMs: invokeMs + 5, outcome, ...extra,
});

const history: HistoryEntry[] = [
  e('login', 'n1', 100, 'ok'),
  e('refresh', 'n2', 900, 'unknown'), // before the fault
  e('refresh', 'n1', 1_000, 'unknown'), // the fault at 1000
  e('introspect', 'n2', 1_400, 'fail'), // an unexpected refusal
  e('refresh', 'n2', 1_500, 'fail', { probe: true }), // a replay, refused as it must be
  e('refresh', 'n3', 2_500, 'unknown'), // on the killed node
  e('refresh', 'n1', 2_600, 'ok'),
  e('verify', 'n1', 5_000, 'unknown'),
];

test('failed requests: unknown outcomes and unexpected refusals, never probes or verifications', (t) => {
  t.deepEqual(failedRequests(history).map((x) => x.invokeMs), [900, 1_000, 1_400, 2_500]);
  t.deepEqual(failedRequests(history, { nodes: ['n1', 'n2'], from: 1_000 }).map((x) => x.invokeMs), [1_000, 1_400]);
  t.deepEqual(failedRequests(history, { to: 1_000 }).map((x) => x.invokeMs), [900]);
  t.is(requests(history).length, 7);
});

test('the failure window runs from the fault to the last failed request of the range', (t) => {
  t.is(failureWindowMs(history, 1_000, { nodes: ['n1', 'n2'] }), 400);
  t.is(failureWindowMs(history, 1_000), 1_500);
  t.is(failureWindowMs(history, 3_000), 0, 'nothing failed after 3000');
});

test('served by: the 2xx answers a node gave to requests invoked in a range', (t) => {
  t.deepEqual(servedBy(history, 'n1', 0, 3_000).map((x) => x.invokeMs), [100, 2_600]);
  t.deepEqual(servedBy(history, 'n1', 200, 2_605), [], 'answered after the end of the range');
  t.deepEqual(servedBy(history, 'n1', 101, 3_000).map((x) => x.invokeMs), [2_600], 'invoked before the start of the range');
});
