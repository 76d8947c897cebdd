// The boot message of a single in-process shard actor on a manual clock (the
// tests that drive a ShardActor directly).

import type { BootMessage } from '../../src/protocol/actor-messages.js';
import { PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';

export function manualBoot(startSecond: number, overrides: Partial<BootMessage> = {}): BootMessage {
  return {
    protocolVersion: PROTOCOL_VERSION,
    shard: 0,
    shardCount: 1,
    idleGraceSeconds: 120,
    clockMode: 'manual',
    startSecond,
    mailboxCommandsMax: 1024,
    dataDir: null,
    offlineCacheEntries: 16,
    durability: 'snapshot',
    ...overrides,
  };
}
