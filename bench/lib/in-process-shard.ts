// A ShardActor driven on the calling thread (no worker, no codec), configured
// as a shard of a one-shard node would be, plus the command objects the
// in-process scenarios feed it. Shared by engine-table and the memory probe so
// that both measure the same sessions.

import { IDLE_GRACE_DEFAULT_S, MAILBOX_COMMANDS_MAX, OFFLINE_CACHE_ENTRIES_DEFAULT } from '../../src/constants.js';
import { ShardActor } from '../../src/actor/shard-actor.js';
import { END_REASON, type BootMessage, type SessionCreateCommand } from '../../src/protocol/actor-messages.js';
import { OP, PROTOCOL_VERSION } from '../../src/protocol/actor-ops.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { clientSessionSettings, realmSessionSettings } from '../../src/session/index.js';
import { ManualClock } from '../../src/time/clock.js';
import { flatUuid, ipOf, username } from './data.js';

export const START_SECOND = 1_800_000_000;
export const REALM = 'bench';
export const CLIENTS = ['c-1', 'c-2', 'c-3'] as const;
export const AUTH_METHOD = 'openid-connect';
export const SCOPE = 'openid profile';

/** A shard actor on this thread: shard `shard` of `shardCount` (the whole node by default). */
export function inProcessActor(shard = 0, shardCount = 1): ShardActor {
  const boot: BootMessage = {
    protocolVersion: PROTOCOL_VERSION,
    shard,
    shardCount,
    idleGraceSeconds: IDLE_GRACE_DEFAULT_S,
    clockMode: 'manual',
    startSecond: START_SECOND,
    mailboxCommandsMax: MAILBOX_COMMANDS_MAX,
    // Online sessions only: no LMDB, as an engine started without a data directory.
    dataDir: null,
    offlineCacheEntries: OFFLINE_CACHE_ENTRIES_DEFAULT, durability: 'snapshot',
  };
  // Replies are dropped: execute() returns results directly and the bench never calls receive().
  const actor = new ShardActor(boot, new ManualClock(START_SECOND), () => {});
  actor.execute({ op: OP.realmPut, realm: REALM, settings: realmSessionSettings() });
  for (const client of CLIENTS) actor.execute({ op: OP.clientPut, realm: REALM, client, settings: clientSessionSettings({}) });
  return actor;
}

/** The inputs of session i, as a host would hold them after parsing a login (flat strings). */
export interface SessionInput {
  id: string;
  userId: string;
  username: string;
  ip: string;
}

export function sessionInput(i: number): SessionInput {
  const userId = flatUuid();
  return { id: newSessionId(partitionOf(REALM, userId)), userId, username: username(i), ip: ipOf(i) };
}

export function createCommand(input: SessionInput, now: number): SessionCreateCommand {
  return {
    op: OP.sessionCreate,
    id: input.id,
    realm: REALM,
    userId: input.userId,
    username: input.username,
    ip: input.ip,
    authMethod: AUTH_METHOD,
    rememberMe: false,
    now,
    client: { client: CLIENTS[0], scope: SCOPE },
    limits: null,
    notes: null,
  };
}

export const REMOVE_REASON = END_REASON.logout;

/**
 * The same session as a plain object of fixed shape (one client session
 * inlined): the naive store the table is compared with. Every instance is
 * built by this one literal, so they share one hidden class.
 */
export interface PlainSession {
  id: string;
  userId: string;
  realm: string;
  username: string;
  ip: string;
  authMethod: string;
  rememberMe: boolean;
  started: number;
  last: number;
  authTime: number;
  client: string;
  clientStarted: number;
  clientTimestamp: number;
  scope: string;
}

export function plainSession(input: SessionInput, now: number): PlainSession {
  return {
    id: input.id,
    userId: input.userId,
    realm: REALM,
    username: input.username,
    ip: input.ip,
    authMethod: AUTH_METHOD,
    rememberMe: false,
    started: now,
    last: now,
    authTime: now,
    client: CLIENTS[0],
    clientStarted: now,
    clientTimestamp: now,
    scope: SCOPE,
  };
}
