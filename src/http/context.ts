// What the HTTP facade works with: the engine, the durable stores, the
// crypto, metrics and the node's options. Built once by node.ts and shared by
// every route plugin; routes never reach a shard except through the engine.

import type { Logger } from 'pino';
import type { PasswordHasher } from '../crypto/password-hasher.js';
import type { Engine } from '../host/engine.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RealmStore } from '../realm/realm-store.js';
import type { KeyRing } from '../tokens/key-ring.js';
import type { TokenService } from '../tokens/token-service.js';
import type { Clock } from '../time/clock.js';
import type { RevokedTokens } from '../tokens/revoked-tokens.js';
import type { BackchannelLogout } from '../logout/backchannel-logout.js';
import type { EventSink } from '../events/event-sink.js';
import type { RealmBundle, RealmRecord } from '../realm/model.js';

export interface FacadeContext {
  engine: Engine;
  store: RealmStore;
  hasher: PasswordHasher;
  keys: KeyRing;
  tokens: TokenService;
  revoked: RevokedTokens;
  backchannel: BackchannelLogout;
  events: EventSink;
  metrics: Metrics;
  clock: Clock;
  log: Logger;
  /** Public base URL (`--hostname`), or null to take it from each request. */
  hostname: string | null;
  /** Public base URL of the admin API (`--hostname-admin`): issuers of requests that arrive through its host. */
  hostnameAdmin: string | null;
  /** Login attempts per client address and window (`--login-rate-limit`, 0 = none). */
  loginRate: { max: number; windowSeconds: number };
  /** Writes a new realm from a bundle (plain passwords hashed with the realm policy). */
  importBundle(bundle: RealmBundle): Promise<RealmRecord>;
}
