// Error codes: one closed union, each code with its HTTP status. Codes are
// never renamed or reused (retired ones stay listed in RETIRED_ERROR_CODES).
// At a boundary (thread, gRPC, HTTP) match on `err.code`, never instanceof:
// errors cross threads as { code, message, detail } and are rebuilt here.

export const ERROR_CODES = Object.freeze({
  ERR_ACTOR_OVERLOADED: { status: 503, message: 'shard mailbox is full, retry later' },
  ERR_ACTOR_UNAVAILABLE: { status: 503, message: 'shard is not running' },
  ERR_ACTOR_RESTARTED: { status: 503, message: 'shard restarted while the command was in flight' },
  ERR_ACTOR_TIMEOUT: { status: 503, message: 'shard did not answer in time' },
  ERR_ENGINE_CLOSED: { status: 503, message: 'engine is shut down' },
  ERR_BAD_COMMAND: { status: 400, message: 'malformed command' },
  ERR_BAD_RECORD: { status: 400, message: 'malformed mutation record' },
  ERR_COMMAND_FAILED: { status: 500, message: 'command failed' },
  ERR_PROTOCOL_VERSION: { status: 500, message: 'protocol version mismatch between host and shard' },
  ERR_REALM_UNKNOWN: { status: 404, message: 'realm not found' },
  ERR_CLIENT_UNKNOWN: { status: 404, message: 'client not found' },
  ERR_SESSION_NOT_FOUND: { status: 404, message: 'session not found' },
  ERR_SESSION_LIMIT: { status: 403, message: 'user session limit reached' },
  ERR_INVALID_ARGUMENT: { status: 400, message: 'invalid argument' },
  ERR_INVALID_OPTION: { status: 400, message: 'invalid option' },
  ERR_OFFLINE_DISABLED: { status: 503, message: 'offline sessions need a data directory' },
  ERR_JOURNAL_WRITE: { status: 503, message: 'the journal could not be written: the change is made, but may not survive a crash' },
  ERR_REALM_IMPORT: { status: 400, message: 'invalid realm file' },
  ERR_HASH_OVERLOADED: { status: 503, message: 'too many password checks waiting, retry later' },
  ERR_NOT_SERVING: { status: 503, message: 'this node is not serving: it holds no valid cluster lease or has not joined yet' },
  ERR_WRONG_OWNER: { status: 503, message: 'the partition has moved to another node' },
  ERR_PEER_UNAVAILABLE: { status: 503, message: 'the node owning the partition could not be reached in time' },
  ERR_REPLICATION_FAILED: { status: 503, message: 'a backup did not acknowledge the change in time' },
  ERR_CONFIG_UNAVAILABLE: { status: 503, message: 'the cluster configuration store (etcd) is unreachable: configuration is read-only' },
} as const);

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that existed once and must never be reused. */
export const RETIRED_ERROR_CODES: readonly string[] = Object.freeze([]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class EngineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;

  constructor(code: ErrorCode, message?: string, detail?: unknown) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'EngineError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = detail;
  }
}

export function hasCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
