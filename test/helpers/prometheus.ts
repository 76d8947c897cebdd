// A strict reader of the Prometheus text exposition format (0.0.4), enough
// to prove that /metrics is parseable: every line is a comment (# HELP,
// # TYPE, other #), blank, or a sample `name{label="value",...} value [ts]`
// whose family was declared by a # TYPE line before it. Throws on anything
// else, naming the line.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  help: Map<string, string>;
  type: Map<string, string>;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"\s*(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count', '_created', '_total', ''];

// Prometheus reads values with Go's strconv.ParseFloat, which matches NaN and
// Inf case-insensitively (prom-client writes "Nan").
function parseValue(text: string, line: string): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad sample value in: ${line}`);
  return Number(text);
}

export function parseExposition(text: string): Exposition {
  const out: Exposition = { help: new Map(), type: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'HELP') out.help.set(name!, rest!);
      else {
        if (!TYPES.has(rest!)) throw new Error(`bad metric type in: ${line}`);
        if (out.type.has(name!)) throw new Error(`TYPE declared twice: ${line}`);
        out.type.set(name!, rest!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const [, name, labelText, valueText] = m;
    const labels: Record<string, string> = {};
    if (labelText !== undefined && labelText !== '') {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let lm = LABEL.exec(labelText); lm !== null; lm = LABEL.exec(labelText)) {
        labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
        consumed = LABEL.lastIndex;
        if (consumed >= labelText.length) break;
      }
      if (consumed !== labelText.length) throw new Error(`bad labels in: ${line}`);
    }
    const family = SUFFIXES.map((s) => (s !== '' && name!.endsWith(s) ? name!.slice(0, -s.length) : name!)).find((f) => out.type.has(f));
    if (family === undefined) throw new Error(`sample without a preceding # TYPE: ${line}`);
    out.samples.push({ name: name!, labels, value: parseValue(valueText!, line) });
  }
  return out;
}

/** The value of the one sample with this name and exactly these labels, or undefined. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels);
  const hit = exposition.samples.find(
    (s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]),
  );
  return hit?.value;
}
