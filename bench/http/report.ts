// Rows of the http-* scenarios: per measured run, latency percentiles (with
// the baseline run's figure beside them where there is one) and errors by
// kind; per scenario, `http_errors` over every run including the baselines,
// because an erroring baseline makes every ratio meaningless.

import { row, type Row } from '../lib/scenario.js';
import type { LoadResult } from './load.js';

export function latencyRows(scenario: string, prefix: string, r: LoadResult, baseline: LoadResult | null = null): Row[] {
  return [
    row(scenario, `${prefix}_latency_p50_ms`, r.latency.p50, 'ms', baseline?.latency.p50 ?? null),
    row(scenario, `${prefix}_latency_p90_ms`, r.latency.p90, 'ms', baseline?.latency.p90 ?? null),
    row(scenario, `${prefix}_latency_p99_ms`, r.latency.p99, 'ms', baseline?.latency.p99 ?? null),
    row(scenario, `${prefix}_latency_max_ms`, r.latency.max, 'ms', baseline?.latency.max ?? null),
  ];
}

/** Errors of one run by kind: non-2xx in total and per status, socket errors, timeouts. */
export function errorRows(scenario: string, prefix: string, r: LoadResult): Row[] {
  const rows = [
    row(scenario, `${prefix}_errors_non2xx`, r.non2xx, 'responses'),
    row(scenario, `${prefix}_errors_socket`, r.socketErrors, 'errors'),
    row(scenario, `${prefix}_errors_timeout`, r.timeouts, 'requests'),
  ];
  for (const [status, count] of Object.entries(r.statuses)) {
    const code = Number(status);
    if (code < 200 || code >= 300) rows.push(row(scenario, `${prefix}_errors_status_${status}`, count, 'responses'));
  }
  return rows;
}

/**
 * Server CPU per response when the server is a local process, the baseline's
 * beside it: all threads, and the main thread alone (a Node server's rate is
 * bounded by its event loop, so the main-thread ratio predicts the rate ratio
 * on an idle machine even when other jobs squeeze this run).
 */
export function cpuRows(scenario: string, prefix: string, r: LoadResult, baseline: LoadResult | null = null): Row[] {
  const rows: Row[] = [];
  if (r.serverCpuUsPerResponse !== null) {
    rows.push(row(scenario, `${prefix}_server_cpu_us_per_req`, r.serverCpuUsPerResponse, 'us', baseline?.serverCpuUsPerResponse ?? null));
  }
  if (r.serverMainCpuUsPerResponse !== null) {
    rows.push(row(scenario, `${prefix}_server_main_thread_cpu_us_per_req`, r.serverMainCpuUsPerResponse, 'us', baseline?.serverMainCpuUsPerResponse ?? null));
  }
  return rows;
}

export function runRows(scenario: string, prefix: string, r: LoadResult, baseline: LoadResult | null = null): Row[] {
  return [...latencyRows(scenario, prefix, r, baseline), ...cpuRows(scenario, prefix, r, baseline), ...errorRows(scenario, prefix, r)];
}

/** The contract row: unexpected non-2xx, socket errors and timeouts over all runs; must be 0. */
export function httpErrorsRow(scenario: string, runs: readonly LoadResult[]): Row {
  return row(scenario, 'http_errors', runs.reduce((n, r) => n + r.errors, 0), 'errors');
}
