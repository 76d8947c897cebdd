// The node's Prometheus metrics. Every name is prefixed `sessiond_` and says
// its unit; gauges that live in the shards are collected from them on each
// scrape (refresh()) and aggregated here, counters are fed as events happen.
// Node's default process metrics are included, with the same prefix (minus the
// three active-resource totals that are gauges named like counters). Every
// counter has its samples from the first scrape: known label values start at
// zero, so rate() and absent() work before the first event.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine, EngineObserver } from '../host/engine.js';
import { opName } from '../protocol/actor-ops.js';

export const METRIC_PREFIX = 'sessiond_';

/**
 * prom-client's default gauges named like counters (`_total` is for counters; promtool refuses
 * them). Their per-type twins (`nodejs_active_handles{type}`, ...) stay and sum to the same value.
 */
const COUNTER_NAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** The metrics refresh() takes from the shards. */
const SESSIONS_ACTIVE = `${METRIC_PREFIX}sessions_active`;
const CLIENT_SESSIONS_ACTIVE = `${METRIC_PREFIX}client_sessions_active`;
const SESSION_EXPIRATIONS = `${METRIC_PREFIX}session_expirations_total`;
const FED_BY_SHARDS: ReadonlySet<string> = new Set([SESSIONS_ACTIVE, CLIENT_SESSIONS_ACTIVE, SESSION_EXPIRATIONS]);

/** Label values every counter starts with (at zero). */
export const EXPIRY_REASONS = ['idle', 'max', 'remember_me_disabled'] as const;
const LOGIN_OUTCOMES = ['success', 'failure'] as const;
const TOKEN_GRANT_TYPES = ['password', 'authorization_code', 'refresh_token', 'client_credentials'] as const;
const TOKEN_OUTCOMES = ['success', 'error'] as const;
const BACKCHANNEL_OUTCOMES = ['success', 'failure', 'dropped'] as const;
const REVOKE_CAUSES = ['logout', 'logout_all', 'revocation', 'user_deleted', 'admin_delete', 'bulk_revoke', 'consent_revoked', 'user_logout'] as const;

/** What the metrics need to know about realms: ids and their label (the realm name). */
export interface RealmSource {
  realmIds(): string[];
  realmName(realmId: string): string;
}

const NO_REALMS: RealmSource = { realmIds: () => [], realmName: (id) => id };

export class Metrics {
  readonly registry = new Registry();
  readonly sessionsActive: Gauge<'realm' | 'type'>;
  readonly clientSessionsActive: Gauge<'realm'>;
  readonly sessionExpirations: Counter<'realm' | 'reason'>;
  readonly mailboxDepth: Gauge<'shard'>;
  readonly actorCommands: Counter<'op' | 'outcome'>;
  readonly actorRestarts: Counter<'shard'>;
  readonly logins: Counter<'realm' | 'outcome'>;
  readonly tokenRequests: Counter<'realm' | 'grant_type' | 'outcome'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly tokenDuration: Histogram<'realm' | 'grant_type'>;
  readonly backchannelLogouts: Counter<'outcome'>;
  readonly adminRequests: Counter<'route' | 'outcome'>;
  readonly sessionsRevoked: Counter<'realm' | 'cause'>;
  readonly eventsWritten: Counter;
  readonly eventsExpired: Counter;
  #lastEvents = { written: 0, expired: 0 };
  /** Last cumulative expiration counts seen per shard, to turn them into counter increments. */
  readonly #lastExpirations = new Map<string, number>();
  readonly #lastRestarts: number[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    for (const name of COUNTER_NAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
    this.sessionsActive = new Gauge({
      name: SESSIONS_ACTIVE,
      help: 'User sessions held, by realm and type (regular = online, offline).',
      labelNames: ['realm', 'type'],
      registers: [this.registry],
    });
    this.clientSessionsActive = new Gauge({
      name: CLIENT_SESSIONS_ACTIVE,
      help: 'Online client sessions held, by realm.',
      labelNames: ['realm'],
      registers: [this.registry],
    });
    this.sessionExpirations = new Counter({
      name: SESSION_EXPIRATIONS,
      help: 'User sessions ended by expiry, by realm and reason (idle or max).',
      labelNames: ['realm', 'reason'],
      registers: [this.registry],
    });
    this.mailboxDepth = new Gauge({
      name: `${METRIC_PREFIX}actor_mailbox_depth`,
      help: 'Commands queued or in flight per shard actor.',
      labelNames: ['shard'],
      registers: [this.registry],
    });
    this.actorCommands = new Counter({
      name: `${METRIC_PREFIX}actor_commands_total`,
      help: 'Commands sent to shard actors, by operation and outcome (ok, error, overloaded, restarted, timeout, unavailable).',
      labelNames: ['op', 'outcome'],
      registers: [this.registry],
    });
    this.actorRestarts = new Counter({
      name: `${METRIC_PREFIX}actor_restarts_total`,
      help: 'Shard workers restarted by their supervisor after a crash.',
      labelNames: ['shard'],
      registers: [this.registry],
    });
    this.logins = new Counter({
      name: `${METRIC_PREFIX}logins_total`,
      help: 'Interactive and direct-grant logins, by realm and outcome (success, failure).',
      labelNames: ['realm', 'outcome'],
      registers: [this.registry],
    });
    this.tokenRequests = new Counter({
      name: `${METRIC_PREFIX}token_requests_total`,
      help: 'Token endpoint requests, by realm, grant type and outcome (success, error).',
      labelNames: ['realm', 'grant_type', 'outcome'],
      registers: [this.registry],
    });
    this.httpDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Public HTTP request duration, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.tokenDuration = new Histogram({
      name: `${METRIC_PREFIX}token_request_duration_seconds`,
      help: 'Token endpoint request duration, by realm and grant type (unsupported for anything else).',
      labelNames: ['realm', 'grant_type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.backchannelLogouts = new Counter({
      name: `${METRIC_PREFIX}backchannel_logout_total`,
      help: 'Back-channel logout deliveries, by outcome (success, failure, dropped).',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.adminRequests = new Counter({
      name: `${METRIC_PREFIX}admin_requests_total`,
      help: 'Admin REST requests, by route and outcome (success, client_error, server_error).',
      labelNames: ['route', 'outcome'],
      registers: [this.registry],
    });
    this.sessionsRevoked = new Counter({
      name: `${METRIC_PREFIX}sessions_revoked_total`,
      help: 'Sessions ended by an admin or a logout, by realm and cause.',
      labelNames: ['realm', 'cause'],
      registers: [this.registry],
    });
    this.eventsWritten = new Counter({
      name: `${METRIC_PREFIX}events_written_total`,
      help: 'User and admin events written to the event store.',
      registers: [this.registry],
    });
    this.eventsExpired = new Counter({
      name: `${METRIC_PREFIX}events_expired_total`,
      help: "Events deleted by their realm's eventsExpiration.",
      registers: [this.registry],
    });
    for (const outcome of BACKCHANNEL_OUTCOMES) this.backchannelLogouts.inc({ outcome }, 0);
  }

  /** Zero samples for a realm's counters, so that they exist before the realm's first event. */
  #initRealm(realm: string): void {
    for (const reason of EXPIRY_REASONS) this.sessionExpirations.inc({ realm, reason }, 0);
    for (const outcome of LOGIN_OUTCOMES) this.logins.inc({ realm, outcome }, 0);
    for (const grant_type of TOKEN_GRANT_TYPES) for (const outcome of TOKEN_OUTCOMES) this.tokenRequests.inc({ realm, grant_type, outcome }, 0);
    for (const cause of REVOKE_CAUSES) this.sessionsRevoked.inc({ realm, cause }, 0);
  }

  /** The engine observer that feeds the counters. */
  engineObserver(): EngineObserver {
    return {
      commandDone: (op, outcome) => this.actorCommands.inc({ op: opName(op), outcome }),
    };
  }

  /** Turns the event store's running totals into counter increments. */
  recordEventStats(stats: { written: number; expired: number }): void {
    if (stats.written > this.#lastEvents.written) this.eventsWritten.inc(stats.written - this.#lastEvents.written);
    if (stats.expired > this.#lastEvents.expired) this.eventsExpired.inc(stats.expired - this.#lastEvents.expired);
    this.#lastEvents = { written: stats.written, expired: stats.expired };
  }

  /** Is metric `name` one of those refresh() takes from the shards (a scrape without them need not ask the shards)? */
  fedByShards(name: string): boolean {
    return FED_BY_SHARDS.has(name);
  }

  /** Pulls the shards' gauges and cumulative counts (unless `fromShards` is false), and the host's own; call before each scrape. */
  async refresh(engine: Engine, realms: RealmSource = NO_REALMS, fromShards = true): Promise<void> {
    if (fromShards) await this.#refreshFromShards(engine, realms);
    engine.mailboxDepths().forEach((depth, shard) => this.mailboxDepth.set({ shard: String(shard) }, depth));
    engine.mailboxDepths().forEach((_depth, shard) => this.actorRestarts.inc({ shard: String(shard) }, 0));
    engine.restarts().forEach((count, shard) => {
      const last = this.#lastRestarts[shard] ?? 0;
      if (count > last) this.actorRestarts.inc({ shard: String(shard) }, count - last);
      this.#lastRestarts[shard] = count;
    });
  }

  async #refreshFromShards(engine: Engine, realms: RealmSource): Promise<void> {
    const stats = await engine.stats();
    this.sessionsActive.reset();
    this.clientSessionsActive.reset();
    const sessions = new Map<string, number>();
    const clientSessions = new Map<string, number>();
    const offline = new Map<string, number>();
    for (const shard of stats) {
      for (const [realm, count] of Object.entries(shard.offlineRealms ?? {})) offline.set(realm, (offline.get(realm) ?? 0) + count);
      for (const [realm, [s, c]] of Object.entries(shard.realms)) {
        sessions.set(realm, (sessions.get(realm) ?? 0) + s);
        clientSessions.set(realm, (clientSessions.get(realm) ?? 0) + c);
      }
      for (const [realm, counts] of Object.entries(shard.expirations)) {
        counts.forEach((count, i) => {
          const reason = EXPIRY_REASONS[i]!;
          const key = `${shard.shard}\u0000${realm}\u0000${reason}`;
          const last = this.#lastExpirations.get(key) ?? 0;
          // A restarted shard starts counting from zero again.
          const delta = count >= last ? count - last : count;
          if (delta > 0) this.sessionExpirations.inc({ realm: realms.realmName(realm), reason }, delta);
          this.#lastExpirations.set(key, count);
        });
      }
    }
    for (const realmId of realms.realmIds()) {
      if (!sessions.has(realmId)) sessions.set(realmId, 0);
      this.#initRealm(realms.realmName(realmId));
    }
    for (const [realmId, count] of sessions) {
      const realm = realms.realmName(realmId);
      this.sessionsActive.set({ realm, type: 'regular' }, count);
      this.sessionsActive.set({ realm, type: 'offline' }, offline.get(realmId) ?? 0);
      this.clientSessionsActive.set({ realm }, clientSessions.get(realmId) ?? 0);
    }
  }
}
