// Reading an import directory (`--import-realm DIR`): every `*.json` file in
// name order, as Keycloak's `kc.sh export --dir` writes them:
//
//   acme-realm.json          the realm (users inside with --users same_file)
//   acme-users-0.json        {"realm":"acme","users":[...]}   (--users different_files,
//   acme-users-1.json        {"realm":"acme","users":[...]}    --users-per-file, default 50)
//   acme-federated-users-0.json                               (federated users: not imported)
//
// A realm file may also hold a JSON array of realms (`kc.sh export --file`
// without --realm). Splitting the parts into realms is mergeUserFiles' job,
// not readRealmDirectory's, so a caller holding files from elsewhere (an
// admin upload, a test) can use it too; loadRealmDirectory (keycloak-realm.ts)
// does all three steps. A user file stays its own document so errors name the file and the
// index in it that are wrong.

import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { indexPath, RealmImportError } from './import-error.js';

export interface RealmFile {
  /** Path as read (directory joined with the file name). */
  file: string;
  json: unknown;
}

/** One realm representation and the user files that belong to it. */
export interface RealmDocument {
  file: string;
  /** JSON path of the realm object in its file: `$`, or `$[i]` in an array of realms. */
  root: string;
  json: unknown;
  /** `<realm>-users-N.json` files in N order. */
  userFiles: RealmFile[];
}

/** `acme-users-3.json` → { realm: 'acme', index: 3 } (Keycloak's DirExportProvider naming). */
const USER_FILE = /^(.+?)-(federated-)?users-(\d+)\.json$/;

export function isUserFileName(file: string): boolean {
  return USER_FILE.test(basename(file));
}

/** Reads every `*.json` file of `dir` (not subdirectories) in name order. */
export async function readRealmDirectory(dir: string): Promise<RealmFile[]> {
  let names: string[];
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    names = entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith('.json')).map((e) => e.name);
  } catch (err) {
    throw new RealmImportError(dir, '$', `cannot read the directory: ${(err as Error).message}`);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: RealmFile[] = [];
  for (const name of names) {
    const file = join(dir, name);
    files.push({ file, json: await readJsonFile(file) });
  }
  return files;
}

/** Reads and parses one JSON file; syntax errors become RealmImportError with line and column. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RealmImportError(file, '$', `cannot read the file: ${(err as Error).message}`);
  }
  return parseJsonText(text, file);
}

/** JSON.parse with the error placed at a line and column of `file`. */
export function parseJsonText(text: string, file: string): unknown {
  // Windows editors like to start files with a byte-order mark; JSON.parse refuses it.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    const message = (err as Error).message;
    const offset = jsonErrorOffset(body, message);
    const { line, column } = lineAndColumn(body, offset);
    // V8 sometimes quotes the whole input in its message; keep the first clause.
    const reason = message.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
    throw new RealmImportError(file, `line ${line}, column ${column}`, `invalid JSON: ${reason}`, { line, column });
  }
}

/**
 * Groups files into realm documents: each user file joins the realm its
 * `realm` field names. Throws for a user file whose realm has no realm file
 * and for a realm defined twice.
 */
export function mergeUserFiles(files: readonly RealmFile[]): RealmDocument[] {
  const documents: RealmDocument[] = [];
  const byRealm = new Map<string, RealmDocument>();
  const userFiles: { file: RealmFile; index: number }[] = [];

  const addDocument = (doc: RealmDocument): void => {
    documents.push(doc);
    const name = (doc.json as { realm?: unknown } | null)?.realm;
    if (typeof name !== 'string') return; // the parser reports it
    const first = byRealm.get(name);
    if (first !== undefined) {
      throw new RealmImportError(doc.file, `${doc.root}.realm`, `realm "${name}" is also defined in ${first.file} (${first.root})`);
    }
    byRealm.set(name, doc);
  };

  for (const f of files) {
    const m = USER_FILE.exec(basename(f.file));
    if (m !== null) {
      userFiles.push({ file: f, index: Number(m[3]) });
    } else if (Array.isArray(f.json)) {
      f.json.forEach((json, i) => addDocument({ file: f.file, root: indexPath('$', i), json, userFiles: [] }));
    } else {
      addDocument({ file: f.file, root: '$', json: f.json, userFiles: [] });
    }
  }

  userFiles.sort((a, b) => a.index - b.index || (a.file.file < b.file.file ? -1 : 1));
  for (const { file } of userFiles) {
    const realm = (file.json as { realm?: unknown } | null)?.realm;
    if (typeof realm !== 'string') throw new RealmImportError(file.file, '$.realm', 'a user file must name its realm');
    const doc = byRealm.get(realm);
    if (doc === undefined) throw new RealmImportError(file.file, '$.realm', `no realm file for realm "${realm}" was found`);
    doc.userFiles.push(file);
  }
  return documents;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * Where the syntax error is: V8's "at position N" when its message has one,
 * else (V8 leaves it out for an unexpected token) the first offset a strict
 * scan of the grammar rejects. Only runs on the error path.
 */
function jsonErrorOffset(text: string, message: string): number {
  const m = /at position (\d+)/.exec(message);
  if (m !== null) return Number(m[1]);
  try {
    return scanForJsonError(text);
  } catch {
    return text.length; // nesting too deep to scan: the end is still a hint
  }
}

class Stop {
  readonly at: number;
  constructor(at: number) {
    this.at = at;
  }
}

function scanForJsonError(text: string): number {
  const n = text.length;
  let i = 0;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const digits = (): void => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === start) throw new Stop(i);
  };
  const string = (): void => {
    i++; // opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) throw new Stop(i);
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          throw new Stop(i);
        }
        continue;
      }
      i++;
    }
    throw new Stop(n);
  };
  const value = (): void => {
    ws();
    if (i >= n) throw new Stop(n);
    const c = text[i]!;
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"') throw new Stop(i);
          string();
          ws();
          if (text[i] !== ':') throw new Stop(i);
          i++;
        }
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        throw new Stop(i);
      }
    }
    if (c === '"') return string();
    for (const literal of ['true', 'false', 'null']) {
      if (c === literal[0]) {
        for (let k = 0; k < literal.length; k++) if (text[i + k] !== literal[k]) throw new Stop(i + k);
        i += literal.length;
        return;
      }
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    throw new Stop(i);
  };
  try {
    value();
    ws();
    return i < n ? i : n;
  } catch (err) {
    if (err instanceof Stop) return err.at;
    throw err;
  }
}
