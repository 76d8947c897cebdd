// The only file given to `new Worker()`: it checks the boot message, builds the
// shard's actor and connects it to the port. No logic lives here.

import { parentPort, workerData } from 'node:worker_threads';
import type { BootMessage, ShardMessage } from '../protocol/actor-messages.js';
import { PROTOCOL_VERSION } from '../protocol/actor-ops.js';
import { encodeFrame } from '../protocol/codec.js';
import { openEnv } from '../store/lmdb-env.js';
import { SystemClock } from '../time/clock.js';
import { ShardActor } from './shard-actor.js';

const port = parentPort;
if (port === null) throw new Error('worker-entry.js must run in a worker thread');

const boot = workerData as BootMessage;
if (boot === null || typeof boot !== 'object' || boot.protocolVersion !== PROTOCOL_VERSION) {
  // The host and this shard disagree on the wire format: refuse to run.
  throw new Error(
    `ERR_PROTOCOL_VERSION: shard speaks protocol ${PROTOCOL_VERSION}, host sent ${String((boot as BootMessage | null)?.protocolVersion)}`,
  );
}

// Offline sessions and snapshots live in the node's one LMDB environment, which
// this thread opens too (lmdb-js shares it within the process).
const env = boot.dataDir === null ? null : openEnv(boot.dataDir);
const actor = new ShardActor(boot, new SystemClock(), (frame) => port.postMessage(frame), env);
port.on('message', (frame: Uint8Array) => actor.receive(frame));
port.postMessage(encodeFrame({ kind: 'ready', shard: boot.shard } satisfies ShardMessage));
