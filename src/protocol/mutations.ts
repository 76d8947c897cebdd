// Mutation records: every change of a shard's session state, as data. A shard
// changes its table only by applying these records (SessionTable.apply), and
// a replica that applies the same records in the same order holds the same
// state: they carry every value explicitly (times included) and never depend
// on the applier's clock, slots or interned ids.
//
// Kind numbers travel between nodes: never renumber, never reuse.

import type { EndReason, SessionFields } from './actor-messages.js';
import type { RefreshChain } from '../session/refresh-reuse.js';

export const MUTATION = Object.freeze({
  sessionCreated: 1,
  clientAttached: 2,
  sessionTouched: 3,
  clientRefreshed: 4,
  clientDetached: 5,
  sessionRemoved: 6,
  realmCleared: 7,
} as const);

export interface SessionCreatedMutation extends SessionFields {
  k: typeof MUTATION.sessionCreated;
  partition: number;
}

/** A client session joins a user session, or an existing one restarts (docs/keycloak-semantics.md#client-sessions restartClientSession). */
export interface ClientAttachedMutation {
  k: typeof MUTATION.clientAttached;
  id: string;
  client: string;
  started: number;
  timestamp: number;
  scope: string;
  ssoAuth: boolean;
  notes: Record<string, string> | null;
  /** New user-session idle clock, or -1 to leave it. */
  userRefresh: number;
}

export interface SessionTouchedMutation {
  k: typeof MUTATION.sessionTouched;
  id: string;
  lastSessionRefresh: number;
}

/** A refresh_token grant: both idle clocks move, and the reuse chain (if rotation is on) is stored. */
export interface ClientRefreshedMutation {
  k: typeof MUTATION.clientRefreshed;
  id: string;
  client: string;
  at: number;
  /** reuse_id of the chain, or null when rotation is off. */
  chainKey: string | null;
  chain: RefreshChain | null;
}

export interface ClientDetachedMutation {
  k: typeof MUTATION.clientDetached;
  id: string;
  client: string;
}

export interface SessionRemovedMutation {
  k: typeof MUTATION.sessionRemoved;
  id: string;
  reason: EndReason;
}

/** Every online session of a realm ends at once (logout-all, realm removal). */
export interface RealmClearedMutation {
  k: typeof MUTATION.realmCleared;
  realm: string;
  reason: EndReason;
}

export type Mutation =
  | SessionCreatedMutation
  | ClientAttachedMutation
  | SessionTouchedMutation
  | ClientRefreshedMutation
  | ClientDetachedMutation
  | SessionRemovedMutation
  | RealmClearedMutation;
