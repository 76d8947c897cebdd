// Every limit of the engine, with its unit and the reason for its value.
// Relationships between limits are asserted when this module loads.

import assert from 'node:assert/strict';

/** Partitions in the whole cluster. Fixed forever: session ids encode their partition. */
export const PARTITION_COUNT = 1024;

/** Commands packed into one postMessage at most. Batching is what makes the actor hop cheap (~2 µs per op at 64+). */
export const BATCH_COMMANDS_MAX = 256;

/**
 * Commands a shard may have in flight (sent, not yet answered). Above it the
 * host sheds load with ERR_ACTOR_OVERLOADED instead of queueing without bound.
 * 64 Ki commands is ~65 ms of work for one shard at 1 M ops/s.
 */
export const MAILBOX_COMMANDS_MAX = 65_536;

/**
 * Batches a shard worker queues (a power of two: the mailbox is a ring). The
 * worker also counts queued commands against MAILBOX_COMMANDS_MAX, so this
 * only bounds the ring when the host sends many tiny batches.
 */
export const MAILBOX_BATCHES_MAX = 4096;

/** Commands a shard executes in one event-loop turn before yielding to expiry and I/O. */
export const TURN_COMMANDS_MAX = 2048;

/**
 * Time after which a shard takes no further transfer chunk or export in the
 * turn (a batch is never split): between turns the worker's port delivers the
 * batches that arrived meanwhile, and requests run ahead of the queued chunks
 * (~1–3 ms each). Requests alone keep a turn going (up to TURN_COMMANDS_MAX),
 * so the batches of one turn still share one journal commit.
 */
export const TURN_BATCHES_MS = 2;

/** Timer-wheel entries a shard fires in one event-loop turn (mass expiry stays interruptible). */
export const EXPIRY_TURN_MAX = 4096;

/** Time a shard spends on expiry in one turn at most, so waiting commands see sub-ms delays. */
export const EXPIRY_TURN_MS = 1;

/**
 * Long idle-clock moves (a session used again after a while) are written to
 * disk apart from the coalesced ones, at most this often (ms of real time):
 * each write is a transaction, and a busy shard sees many such moves, so
 * those of 100 ms share one.
 */
export const LONG_TOUCH_WRITE_MS = 100;

/** How long the host waits for a shard to answer a command before failing it. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** How long a scrape waits for shard statistics before using the last ones. */
export const STATS_TIMEOUT_MS = 2_000;

/** Backoff before restarting a crashed shard worker, doubled per consecutive crash. */
export const WORKER_RESTART_BACKOFF_MS = 50;
export const WORKER_RESTART_BACKOFF_MAX_MS = 5_000;

/** Items a listing returns at most per call (Keycloak admin paging is capped the same way). */
export const LIST_RESULTS_MAX = 10_000;

/** Distinct interned strings (scopes, auth methods) per shard before falling back to per-session copies. */
export const INTERNED_STRINGS_MAX = 65_536;

/** Offline sessions a node keeps in memory by default (Keycloak's cache size). */
export const OFFLINE_CACHE_ENTRIES_DEFAULT = 10_000;

/** Default idle grace window (Keycloak's IDLE_TIMEOUT_WINDOW_SECONDS in volatile mode). */
export const IDLE_GRACE_DEFAULT_S = 120;

/** Expiry notices a shard ships to the host in one message. */
export const EXPIRY_NOTICES_BATCH_MAX = 4096;

assert.ok(Number.isInteger(Math.log2(PARTITION_COUNT)), 'PARTITION_COUNT is a power of two');
assert.ok(PARTITION_COUNT <= 0xffff, 'a partition fits the 16 bits a session id reserves for it');
assert.ok(BATCH_COMMANDS_MAX <= MAILBOX_COMMANDS_MAX, 'a batch fits in a mailbox');
assert.ok(BATCH_COMMANDS_MAX <= TURN_COMMANDS_MAX, 'a turn can run at least one whole batch');
assert.ok(Number.isInteger(Math.log2(MAILBOX_BATCHES_MAX)), 'MAILBOX_BATCHES_MAX is a power of two');
assert.ok(EXPIRY_NOTICES_BATCH_MAX <= EXPIRY_TURN_MAX, 'one turn ships its notices in one message');

/**
 * Bytes of a refused (too large) request body read and discarded before the
 * 413 answer, so that a client still sending reads the answer instead of a
 * reset connection (nginx's lingering close). 8 MiB is four times the largest
 * body a well-meaning client sends by mistake; beyond it the connection closes.
 */
export const LINGER_BODY_MAX_BYTES = 8 * 1024 * 1024;

/** How long a refused body is drained at most before the answer goes out anyway. */
export const LINGER_MAX_MS = 5_000;

/**
 * Characters a path parameter may have before the router refuses the URL.
 * Node refuses request heads over 16 KiB first, so no path reaches this: an
 * overlong id is simply not found (404), as Keycloak answers.
 */
export const PATH_PARAM_MAX_CHARS = 16 * 1024;
