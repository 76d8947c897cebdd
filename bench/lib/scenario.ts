// The contract between the runner (bench/run.ts) and a scenario module. A
// scenario measures its workload and, right beside it in the same process, a
// baseline that bounds what the workload could cost; consumers read the ratio,
// because this machine is shared and absolute figures swing by ~30 % between
// runs (docs/performance.md#anchors).

export interface Row {
  scenario: string;
  /** Stable name (a contract: never rename one, add a new one instead). */
  metric: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, or null when the target is absolute. */
  baseline: number | null;
  /** value / baseline, or null when there is no baseline. */
  ratio: number | null;
}

export interface ScenarioOptions {
  /** Smaller N and fewer repeats, same metric names: each scenario must finish in < 60 s. */
  quick: boolean;
  /** Progress and diagnostics: the runner sends them to stderr and keeps them in the results file. */
  log: (line: string) => void;
  /** Valued flags the runner passed through (`--target URL`, ...): only the http-* scenarios read them. */
  flags?: Readonly<Record<string, string>>;
}

export interface Scenario {
  name: string;
  description: string;
  run(opts: ScenarioOptions): Promise<Row[]>;
}

/** A row with its ratio computed; a missing or non-positive baseline gives no ratio. */
export function row(scenario: string, metric: string, value: number, unit: string, baseline: number | null = null): Row {
  const ratio = baseline !== null && baseline > 0 ? value / baseline : null;
  return { scenario, metric, value, unit, baseline, ratio };
}
