// The one error an import raises for a file it cannot take, and the JSON-path
// helpers that name the place. Paths follow JSONPath's dot notation
// (`$.users[12].credentials[0].secretData`), with bracket notation for keys
// that are not identifiers (`$.clients[3].attributes["post.logout.redirect.uris"]`).

export class RealmImportError extends Error {
  /** Stable code for callers that match on codes (main exits 2 on it). */
  readonly code = 'ERR_REALM_IMPORT';
  readonly file: string;
  /** JSON path of the offending value, or `line L, column C` for a syntax error. */
  readonly path: string;
  readonly reason: string;
  /** 1-based position of a JSON syntax error, when known. */
  readonly line: number | null;
  readonly column: number | null;

  constructor(file: string, path: string, reason: string, position?: { line: number; column: number }) {
    super(`${file}: ${path}: ${reason}`);
    this.name = 'RealmImportError';
    this.file = file;
    this.path = path;
    this.reason = reason;
    this.line = position?.line ?? null;
    this.column = position?.column ?? null;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `base.key`, or `base["key"]` when the key is not an identifier. */
export function childPath(base: string, key: string): string {
  return IDENTIFIER.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

export function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

/** A value's JSON type, for messages ("must be a string, got number"). */
export function jsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
