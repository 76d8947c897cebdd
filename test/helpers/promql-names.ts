// What a PromQL expression names: the sessiond_ metrics it selects and the
// label names it uses (in selectors `{name="..."}` and in `by (...)` /
// `without (...)` groupings). Not a PromQL parser: enough to catch a panel or
// an alert that names a metric or a label the node does not export.

export interface PromqlNames {
  metrics: string[];
  labels: string[];
}

const METRIC = /\b(sessiond_[a-zA-Z0-9_]+)\b/g;
const SELECTOR = /\{([^}]*)\}/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g;
const GROUPING = /\b(?:by|without)\s*\(([^)]*)\)/g;

export function promqlNames(expr: string): PromqlNames {
  // String literals (label values, regexes) could hold anything: blank them first.
  const code = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const metrics = [...code.matchAll(METRIC)].map((m) => m[1]!);
  const labels: string[] = [];
  for (const selector of code.matchAll(SELECTOR)) for (const m of selector[1]!.matchAll(MATCHER)) labels.push(m[1]!);
  for (const group of code.matchAll(GROUPING)) {
    for (const name of group[1]!.split(',')) if (name.trim() !== '') labels.push(name.trim());
  }
  return { metrics: [...new Set(metrics)], labels: [...new Set(labels)] };
}

/** The family a sample name belongs to (histogram series suffixes stripped when the family is a histogram). */
export function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const family = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
    if (family !== null && (types.get(family) === 'histogram' || types.get(family) === 'summary')) return family;
  }
  return undefined;
}
