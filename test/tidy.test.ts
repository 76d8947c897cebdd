// Rules that keep the project honest rather than behaviours: what a user
// reads in docs/ matches what the code does.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import test from 'ava';
import { OPTION_SPECS, envName } from '../src/config/options.js';
import { ERROR_CODES } from '../src/errors.js';

const repo = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');

test('docs/configuration.md lists every option with its environment variable, and nothing else', (t) => {
  const doc = read('docs/configuration.md');
  const rows = new Set([...doc.matchAll(/^\| `(--[a-z-]+)` \|/gm)].map((m) => m[1]));
  for (const spec of OPTION_SPECS) {
    t.true(rows.has(spec.flag), `${spec.flag} is documented`);
    t.true(doc.includes(`\`${envName(spec.flag)}\``), `${envName(spec.flag)} is documented`);
  }
  t.deepEqual([...rows].sort(), OPTION_SPECS.map((s) => s.flag).sort(), 'no row for an option that does not exist');
});

test('docs/errors.md and src/errors.ts list the same error codes', (t) => {
  const doc = read('docs/errors.md');
  const documented = new Set([...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  t.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort());
});

test('the README opens with the two commands', (t) => {
  const readme = read('README.md');
  t.true(readme.includes('npm ci && npm start'));
  t.true(readme.includes('npm ci && npm test'));
});

/** The documents a newcomer reads: README.md, every page of docs/, and bench/README.md. */
function documents(): string[] {
  const docs = readdirSync(new URL('docs/', repo)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  return ['README.md', 'bench/README.md', ...docs];
}

/** Markdown without fenced code blocks (examples there are not links). */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of prose(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const text = match[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

test('every relative link in README.md and docs/ points at a file that exists, and at a heading that exists', (t) => {
  let links = 0;
  for (const doc of documents()) {
    const text = prose(read(doc));
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/i.test(target)) continue; // http(s), mailto
      links++;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? doc : normalize(join(dirname(doc), decodeURIComponent(path)));
      t.true(existsSync(new URL(file, repo)), `${doc}: ${target} -> ${file} exists`);
      if (anchor !== undefined && anchor !== '' && file.endsWith('.md') && existsSync(new URL(file, repo))) {
        t.true(anchors(read(file)).has(anchor), `${doc}: ${target} -> heading #${anchor} exists in ${file}`);
      }
    }
  }
  t.true(links > 50, `${links} links checked`);
});

test('docs cite no notes outside the repository; code comments cite docs/ pages and headings that exist', (t) => {
  const cited = /\b(KEYCLOAK|DESIGN|STYLE|PERF-ANCHORS|CLUSTER)\.md\b/;
  for (const doc of documents()) t.false(cited.test(read(doc)), `${doc} cites no outside note`);
  const sources = ['src', 'test', 'bench'].flatMap((dir) =>
    readdirSync(new URL(`${dir}/`, repo), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `${dir}/${f}`),
  );
  for (const file of sources) {
    const text = read(file);
    for (const match of text.matchAll(/(?:README\.md|docs\/[a-z-]+\.md)(?:#([a-z0-9-]+))?/g)) {
      const [target, anchor] = match[0].split('#') as [string, string | undefined];
      t.true(existsSync(new URL(target, repo)), `${file}: ${match[0]}`);
      if (anchor !== undefined) t.true(anchors(read(target)).has(anchor), `${file}: ${match[0]} heading exists`);
    }
  }
});
