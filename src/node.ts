// SessiondNode: one running node, assembled. It opens the data directory,
// the realm store, the password-hashing pool and the engine, makes sure the
// master realm and its bootstrap admin exist, imports realm files, restores
// the online sessions saved by the last graceful shutdown, and keeps the
// engine's realm/client settings in step with the store. main.ts adds the
// process concerns (options, signals, exit codes); tests start nodes in-process.

import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { clusterMode, type NodeOptions } from './config/options.js';
import { ClusterMember } from './cluster/cluster-member.js';
import { registerClusterMetrics } from './cluster/cluster-metrics.js';
import { checkNodeIdentity } from './cluster/node-identity.js';
import { ClusterCertificates, type ReloadOutcome, type TlsLink } from './cluster/cluster-certificates.js';
import { clearOnlineSessions } from './store/journal-log.js';
import { PasswordHasher, parsePasswordPolicy } from './crypto/password-hasher.js';
import { Engine } from './host/engine.js';
import { buildManagementServer } from './http/management-server.js';
import { Metrics } from './metrics/metrics.js';
import { registerNodeMetrics } from './metrics/node-metrics.js';
import type { ExpiredNotice } from './protocol/actor-messages.js';
import { masterRealmBundle, userDefaults } from './realm/defaults.js';
import { loadRealmDirectory } from './realm/import/keycloak-realm.js';
import type { ClientRecord, RealmBundle, RealmRecord } from './realm/model.js';
import { RealmStore } from './realm/realm-store.js';
import { formationTime, openEnv, type LmdbEnv } from './store/lmdb-env.js';
import { SystemClock, type Clock } from './time/clock.js';
import { EventSink } from './events/event-sink.js';
import type { FacadeContext } from './http/context.js';
import { buildPublicServer } from './http/public-server.js';
import { BackchannelLogout } from './logout/backchannel-logout.js';
import { KeyRing } from './tokens/key-ring.js';
import { RevokedTokens } from './tokens/revoked-tokens.js';
import { TokenService } from './tokens/token-service.js';

/** How often background housekeeping (event expiry, revoked-token sweep) runs. */
const HOUSEKEEPING_INTERVAL_MS = 60_000;
/** A stop lets the requests under way finish for this long, then closes the connections still open. */
const HTTP_DRAIN_MS = 5_000;
/** While draining, keep-alive connections are closed this often as their requests finish. */
const IDLE_CLOSE_INTERVAL_MS = 100;
/** Events deleted per housekeeping round at most. */
const EVENT_EXPIRY_BATCH = 10_000;

export const MASTER_REALM = 'master';
export const BOOTSTRAP_ADMIN_USERNAME_DEFAULT = 'admin';
export const BOOTSTRAP_ADMIN_PASSWORD_DEFAULT = 'admin';

export interface NodeDependencies {
  options: NodeOptions;
  log: Logger;
  /** Bootstrap admin credentials (SESSIOND_BOOTSTRAP_ADMIN_USERNAME / _PASSWORD). */
  bootstrapAdmin?: { username: string; password: string };
  clock?: Clock;
  clockMode?: 'system' | 'manual';
  /** Hash pool threads (default: one per core). */
  hasherSize?: number;
}

export class SessiondNode extends EventEmitter {
  readonly options: NodeOptions;
  readonly log: Logger;
  readonly env: LmdbEnv;
  readonly store: RealmStore;
  readonly hasher: PasswordHasher;
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly management: FastifyInstance;
  readonly server: FastifyInstance;
  readonly keys: KeyRing;
  readonly tokens: TokenService;
  readonly revoked: RevokedTokens;
  readonly backchannel: BackchannelLogout;
  readonly events: EventSink;
  readonly clock: Clock;
  readonly facade: FacadeContext;
  /** This node's part in a cluster; null for a single node. */
  readonly cluster: ClusterMember | null;
  #housekeeping: NodeJS.Timeout | null = null;
  #ready = false;
  #stopped = false;

  private constructor(parts: {
    options: NodeOptions;
    log: Logger;
    env: LmdbEnv;
    store: RealmStore;
    hasher: PasswordHasher;
    engine: Engine;
    metrics: Metrics;
    clock: Clock;
    cluster: ClusterMember | null;
    revoked: RevokedTokens;
  }) {
    super();
    this.cluster = parts.cluster;
    this.options = parts.options;
    this.log = parts.log;
    this.env = parts.env;
    this.store = parts.store;
    this.hasher = parts.hasher;
    this.engine = parts.engine;
    this.metrics = parts.metrics;
    this.clock = parts.clock;
    this.keys = new KeyRing(this.store);
    this.tokens = new TokenService(this.keys);
    this.revoked = parts.revoked;
    this.events = new EventSink(this.store, this.env, () => this.clock.nowMs());
    this.backchannel = new BackchannelLogout({
      store: this.store,
      keys: this.keys,
      log: this.log,
      onOutcome: (outcome) => this.metrics.backchannelLogouts.inc({ outcome }),
    });
    this.facade = {
      engine: this.engine,
      store: this.store,
      hasher: this.hasher,
      keys: this.keys,
      tokens: this.tokens,
      revoked: this.revoked,
      backchannel: this.backchannel,
      events: this.events,
      metrics: this.metrics,
      clock: this.clock,
      log: this.log,
      hostname: this.options.hostname,
      hostnameAdmin: this.options.hostnameAdmin,
      loginRate: { max: this.options.loginRateLimit, windowSeconds: this.options.loginRateWindowSeconds },
      importBundle: (bundle) => this.importBundle(bundle, 'admin API'),
    };
    registerNodeMetrics(this.metrics.registry, { ready: () => this.ready, hasher: this.hasher });
    if (this.cluster !== null) registerClusterMetrics(this.metrics.registry, this.cluster);
    this.server = buildPublicServer(this.facade, { accessLog: this.options.accessLog, proxy: this.options });
    if (this.options.hostname === null) {
      this.log.warn(
        'no --hostname: token issuers follow each request\'s Host header (and trusted proxy headers); set --hostname (and --hostname-strict true) in production',
      );
    }
    this.management = buildManagementServer({
      engine: this.engine,
      metrics: this.metrics,
      realmIds: () => this.store.realms().map((r) => r.id),
      realmName: (realmId) => this.store.realmById(realmId)?.name ?? realmId,
      openapi: () => this.server.swagger(),
      eventStats: () => this.events.stats,
      readyChecks: this.cluster === null ? { startup: () => this.#ready } : { startup: () => this.#ready, cluster: () => this.cluster!.ready },
      ...(this.cluster !== null ? { cluster: this.cluster } : {}),
    });
  }

  /** Opens everything and gets the node ready to serve (servers are not listening yet). */
  static async start(deps: NodeDependencies): Promise<SessiondNode> {
    const { options, log } = deps;
    // Checked before the data directory is opened: bad files leave it untouched.
    const tls = clusterMode(options) ? ClusterCertificates.read({ ca: options.grpcTlsCa, cert: options.grpcTlsCert, key: options.grpcTlsKey }) : null;
    const etcdTls = clusterMode(options) ? ClusterCertificates.readEtcd({ ca: options.clusterEtcdCa, cert: options.clusterEtcdCert, key: options.clusterEtcdKey }) : null;
    const env = openEnv(options.dataDir);
    const clock = deps.clock ?? new SystemClock();
    let cluster: ClusterMember | null = null;
    try {
      if (clusterMode(options)) {
        checkNodeIdentity(env, options.clusterName, options.nodeId);
        cluster = await ClusterMember.create({
          etcd: options.clusterEtcd,
          cluster: options.clusterName,
          node: options.nodeId,
          host: options.host,
          grpcPort: options.grpcPort,
          advertise: options.grpcAdvertise,
          zone: options.zone,
          tls,
          etcdTls,
          owners: options.owners,
          replicateTimeoutMs: options.replicateTimeoutMs,
          touchReplicationIntervalMs: options.touchReplicationIntervalMs,
          copyCheckPeriodMs: options.copyCheckPeriodSeconds * 1000,
          log,
          env,
          store: RealmStore.open(env),
          revoked: new RevokedTokens(env, clock.nowSeconds()),
          nowSeconds: () => clock.nowSeconds(),
        });
        // A member that cannot come back as the one it was starts from nothing (cluster-member.ts, join).
        if (!cluster.restoresFromDisk) await clearOnlineSessions(env);
      }
    } catch (err) {
      await env.close();
      throw err;
    }
    const store = cluster?.store ?? RealmStore.open(env);
    const hasher = await PasswordHasher.start(deps.hasherSize === undefined ? {} : { size: deps.hasherSize });
    const metrics = new Metrics();
    let engine: Engine;
    try {
      engine = await Engine.start({
        shards: options.shards,
        idleGraceSeconds: options.idleGraceSeconds,
        offlineCacheEntries: options.offlineCacheEntries,
        durability: options.durability,
        formedAt: cluster?.formedAt ?? formationTime(env, clock.nowSeconds()),
        ...(cluster !== null ? { router: (pool) => cluster.makeRouter(pool) } : {}),
        env,
        ...(deps.clock !== undefined ? { clock: deps.clock } : {}),
        ...(deps.clockMode !== undefined ? { clockMode: deps.clockMode } : {}),
        observer: {
          ...metrics.engineObserver(),
          workerExited: (shard, detail) => {
            log.error({ shard, detail }, 'shard worker exited');
            cluster?.shardExited(shard);
          },
          workerStarted: (shard, restarts) => {
            if (restarts === 0) return;
            log.warn({ shard, restarts }, 'shard worker restarted; its realm configuration was replayed');
            cluster?.shardRestarted();
          },
        },
      });
    } catch (err) {
      await cluster?.leave();
      await hasher.close();
      await env.close();
      throw err;
    }
    const revoked = cluster?.revoked ?? new RevokedTokens(env, clock.nowSeconds());
    const node = new SessiondNode({ options, log, env, store, hasher, engine, metrics, clock, cluster, revoked });
    try {
      await node.#boot(deps);
    } catch (err) {
      await node.stop().catch(() => {});
      throw err;
    }
    return node;
  }

  get ready(): boolean {
    return this.#ready && this.engine.ready;
  }

  async #boot(deps: NodeDependencies): Promise<void> {
    // Every store write resolves after the engine applied it (a realm's settings, a client's
    // overrides, the removal of a deleted realm's or client's sessions). Listened to before the
    // realms already stored are pushed: a cluster's configuration log may apply a write meanwhile.
    this.store.onChange(async (change) => {
      switch (change.kind) {
        case 'realm':
          return this.#pushRealm(change.realm);
        case 'client':
          return this.#pushClient(change.client);
        case 'realm-deleted':
          await this.engine.removeRealm(change.realm.id);
          await this.engine.loginFailures.removeRealm(change.realm.id);
          await this.events.clear(change.realm.id, false);
          await this.events.clear(change.realm.id, true);
          return;
        case 'client-deleted':
          await this.engine.removeClient(change.client.realmId, change.client.id);
          return;
      }
    });
    // Settings reach the shards before any session can be created or restored; each realm as stored
    // when its turn comes (a write applied meanwhile was pushed by the listener, and is not undone).
    for (const { id } of this.store.realms()) {
      const realm = this.store.realmById(id);
      if (realm !== undefined) await this.#pushRealm(realm);
    }
    this.#watchExpiryEvents();
    // A cluster member's writes go through the cluster's log from here on.
    this.cluster?.attach(this.engine, this.events);

    await this.#ensureMaster(deps.bootstrapAdmin ?? { username: BOOTSTRAP_ADMIN_USERNAME_DEFAULT, password: BOOTSTRAP_ADMIN_PASSWORD_DEFAULT });
    if (this.options.importRealm !== null) await this.importDirectory(this.options.importRealm);

    // A cluster member gets its sessions from the other owners (state transfer), unless it may come back
    // as the member it was: then its disk holds the partitions the table gives it (cluster-member.ts, join).
    if (this.cluster === null || this.cluster.restoresFromDisk) {
      const restored = await this.engine.loadSnapshot();
      if (restored.loaded > 0 || restored.dropped.length > 0) {
        this.log.info({ restored: restored.loaded, expiredWhileDown: restored.dropped.length }, 'online sessions restored from the last shutdown');
      }
      this.emit('restored', restored);
    }
    this.#housekeeping = setInterval(() => void this.housekeeping(), HOUSEKEEPING_INTERVAL_MS);
    this.#housekeeping.unref();
    this.#ready = true;
  }

  /**
   * Session expiry is audited as Keycloak 26.5+ does (docs/keycloak-semantics.md#events): one
   * USER_SESSION_DELETED user event per session the engine expired, with
   * details `reason` (`idle`, `max`, `remember_me_disabled`), `session_ip`,
   * `username` and `offline`, in realms that store that event type. The shards
   * ship expiry notices only while the engine has an 'expired' listener, so
   * the listener is attached only while at least one realm stores the type
   * (re-checked whenever a realm changes or goes).
   */
  #watchExpiryEvents(): void {
    const onExpired = (notice: ExpiredNotice): void => {
      const { session } = notice;
      if (!this.events.stores(session.realm, 'USER_SESSION_DELETED')) return;
      this.events.emit({
        type: 'USER_SESSION_DELETED',
        realmId: session.realm,
        clientId: null,
        userId: session.userId,
        sessionId: session.id,
        ipAddress: null,
        error: null,
        details: { reason: notice.reason, session_ip: session.ip, username: session.username, offline: String(notice.offline) },
      });
    };
    const sync = (): void => {
      const wanted = this.store.realms().some((realm) => this.events.stores(realm.id, 'USER_SESSION_DELETED'));
      const attached = this.engine.listeners('expired').includes(onExpired);
      if (wanted && !attached) this.engine.on('expired', onExpired);
      else if (!wanted && attached) this.engine.off('expired', onExpired);
    };
    sync();
    this.store.onChange((change) => {
      if (change.kind === 'realm' || change.kind === 'realm-deleted') sync();
    });
  }

  /** Background upkeep: expired events and revoked-token ids are deleted. */
  async housekeeping(): Promise<void> {
    try {
      await this.events.expire(this.clock.nowMs(), EVENT_EXPIRY_BATCH);
      await this.revoked.sweep(this.clock.nowSeconds());
    } catch (err) {
      this.log.error({ err }, 'housekeeping failed');
    }
  }

  /**
   * Starts both HTTP servers; then a cluster node joins the view. Joining is
   * the last step of start-up (cluster-member.ts, join): a member is given
   * partitions and sent transfers at once, and a node still busy starting
   * would answer its peers late and be evicted for it.
   */
  async listen(): Promise<void> {
    // A stop signal may come while this runs: each step is skipped once the stop has begun.
    if (!this.#stopped) await this.server.listen({ port: this.options.httpPort, host: this.options.host });
    if (!this.#stopped) await this.management.listen({ port: this.options.managementPort, host: this.options.host });
    if (!this.#stopped) await this.cluster?.join();
  }

  /** SIGHUP: the TLS files of the cluster's links are read again (null: nothing to reload, no --grpc-tls-* or --cluster-etcd-ca). */
  reloadCertificates(): Partial<Record<TlsLink, ReloadOutcome>> | null {
    return this.cluster?.reloadCertificates() ?? null;
  }

  /** True once stop() has begun. */
  get stopping(): boolean {
    return this.#stopped;
  }

  /**
   * The realm's settings, then its clients', asked together: the engine keeps
   * them in order per shard, and they travel in one frame instead of a round
   * trip each (a logout-all, which updates the realm, waited for a dozen
   * round trips behind the shards' work).
   */
  async #pushRealm(realm: RealmRecord): Promise<void> {
    const realmPushed = this.engine.putRealm(realm.id, realm.sessions, { master: realm.name === MASTER_REALM });
    await Promise.all([realmPushed, ...this.store.clients(realm.id).map((client) => this.#pushClient(client))]);
  }

  async #pushClient(client: ClientRecord): Promise<void> {
    if (this.engine.realmSettings(client.realmId) === undefined) return;
    await this.engine.putClient(client.realmId, client.id, { attributes: client.attributes, notBefore: client.notBefore });
  }

  /** The master realm with `admin-cli` and the bootstrap admin, created on first start. */
  async #ensureMaster(admin: { username: string; password: string }): Promise<void> {
    const existing = this.store.realmByName(MASTER_REALM);
    if (existing !== undefined) {
      if (await this.#bootstrapPasswordStillDefault(existing.id, admin)) this.#warnDefaultAdminPassword(admin.username);
      return;
    }
    const bundle = masterRealmBundle();
    const credential = await this.hasher.hash(admin.password, parsePasswordPolicy(bundle.realm.passwordPolicy));
    const user = userDefaults(bundle.realm.id, admin.username.toLowerCase(), {
      enabled: true,
      realmRoles: ['admin', 'create-realm', `default-roles-${MASTER_REALM}`],
      credentials: [credential],
    });
    bundle.users.push(user);
    try {
      await this.store.createRealm(bundle);
    } catch (err) {
      // Cluster members starting together: another one created it first.
      if ((err as { code?: string }).code === 'ERR_CONFLICT' && this.store.realmByName(MASTER_REALM) !== undefined) return;
      throw err;
    }
    this.log.info({ realm: MASTER_REALM, admin: user.username }, 'master realm created with the bootstrap admin');
    if (admin.password === BOOTSTRAP_ADMIN_PASSWORD_DEFAULT) this.#warnDefaultAdminPassword(user.username);
  }

  /** One hash at start: whether the bootstrap admin of an existing master realm still has the default password. */
  async #bootstrapPasswordStillDefault(masterId: string, admin: { username: string; password: string }): Promise<boolean> {
    if (admin.password !== BOOTSTRAP_ADMIN_PASSWORD_DEFAULT) return false;
    const user = this.store.userByUsername(masterId, admin.username.toLowerCase());
    const credential = user?.credentials[0];
    if (credential === undefined) return false;
    return this.hasher.verify(BOOTSTRAP_ADMIN_PASSWORD_DEFAULT, credential);
  }

  #warnDefaultAdminPassword(username: string): void {
    this.log.warn(
      { realm: MASTER_REALM, admin: username },
      'the bootstrap admin has the default password: set SESSIOND_BOOTSTRAP_ADMIN_PASSWORD before first start, or change it through the admin API',
    );
  }

  /**
   * Imports every realm file of a directory. A realm that exists is left as it
   * is; an invalid file fails with its path, the JSON path and the reason.
   */
  async importDirectory(dir: string): Promise<{ imported: string[]; skipped: string[] }> {
    const parsed = await loadRealmDirectory(dir);
    const imported: string[] = [];
    const skipped: string[] = [];
    for (const { bundle, file, ignored, notes } of parsed) {
      const realm = bundle.realm.name;
      if (this.store.realmByName(realm) !== undefined) {
        // The file's notes (service accounts, generated secrets) describe an import that does not happen.
        this.log.info({ realm, file }, 'realm exists in the data directory: file not imported (change the realm through the admin API, or start on an empty --data-dir to import the file again)');
        skipped.push(realm);
        continue;
      }
      if (ignored.length > 0) this.log.debug({ realm, file, ignored }, 'ignored fields in realm file');
      for (const note of notes) this.log.info({ realm, file }, note);
      try {
        await this.importBundle(bundle, file);
      } catch (err) {
        // Cluster members importing the same file at once: the first one's realm stands.
        if ((err as { code?: string }).code !== 'ERR_CONFLICT' || this.store.realmByName(realm) === undefined) throw err;
        this.log.info({ realm, file }, 'realm created by another cluster member meanwhile: file not imported');
        skipped.push(realm);
        continue;
      }
      imported.push(bundle.realm.name);
    }
    return { imported, skipped };
  }

  /** Hashes plain-text passwords with the realm's policy (in the pool) and writes the realm. */
  async importBundle(bundle: RealmBundle, source = 'bundle'): Promise<RealmRecord> {
    const started = Date.now();
    const policy = parsePasswordPolicy(bundle.realm.passwordPolicy);
    if (bundle.plainPasswords.length > 0) {
      const users = new Map(bundle.users.map((u) => [u.id, u]));
      await Promise.all(
        bundle.plainPasswords.map(async ({ userId, password, temporary }) => {
          const user = users.get(userId);
          if (user === undefined) return;
          user.credentials = [await this.hasher.hash(password, policy)];
          if (temporary && !user.requiredActions.includes('UPDATE_PASSWORD')) user.requiredActions.push('UPDATE_PASSWORD');
        }),
      );
    }
    const total = bundle.users.length;
    let lastLogged = 0;
    const realm = await this.store.createRealm(bundle, {
      onProgress: (p) => {
        const now = Date.now();
        if (p.usersWritten === p.usersTotal || now - lastLogged >= 1000) {
          lastLogged = now;
          this.log.info({ realm: p.realm, users: `${p.usersWritten}/${p.usersTotal}` }, 'importing realm');
        }
      },
    });
    this.log.info(
      {
        realm: realm.name,
        source,
        clients: bundle.clients.map((c) => c.clientId),
        users: total <= 20 ? bundle.users.map((u) => u.username) : total,
        ms: Date.now() - started,
      },
      'realm imported',
    );
    return realm;
  }

  /**
   * Graceful stop: readiness DOWN while the node still serves for
   * --shutdown-delay, then the servers, then the online snapshot (or the
   * cluster leave), the shards and the data directory.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ready = false;
    if (this.#housekeeping !== null) clearInterval(this.#housekeeping);
    // From now on every answer asks its client to close the connection (and open the next one elsewhere).
    this.server.server.prependListener('request', (_request, response) => response.setHeader('connection', 'close'));
    if (this.options.shutdownDelayMs > 0) {
      this.log.info({ ms: this.options.shutdownDelayMs }, 'readiness DOWN: serving for the shutdown delay, then stopping');
      await new Promise((resolve) => setTimeout(resolve, this.options.shutdownDelayMs));
    }
    await closeDraining(this.server);
    await closeDraining(this.management);
    await this.backchannel.close();
    if (this.cluster !== null) {
      // The other owners take over this node's partitions as soon as its lease is gone.
      await this.cluster.leave();
      this.log.info('left the cluster');
    } else {
      const saved = await this.engine.saveSnapshot().catch((err: unknown) => {
        this.log.error({ err }, 'saving online sessions failed');
        return 0;
      });
      this.log.info({ sessions: saved }, 'online sessions saved');
    }
    await this.engine.close();
    await this.hasher.close();
    await this.env.root.flushed;
    await this.env.close();
  }
}

/**
 * Closes an HTTP server: no new connections, the requests under way finish.
 * A keep-alive connection busy when the stop began becomes idle afterwards,
 * and the server would wait for its keep-alive timeout (72 s), so idle
 * connections are closed as they appear; after HTTP_DRAIN_MS the rest are
 * closed too.
 */
async function closeDraining(app: FastifyInstance): Promise<void> {
  const http = app.server;
  const idle = setInterval(() => http.closeIdleConnections(), IDLE_CLOSE_INTERVAL_MS);
  const late = setTimeout(() => http.closeAllConnections(), HTTP_DRAIN_MS);
  try {
    await app.close();
  } finally {
    clearInterval(idle);
    clearTimeout(late);
  }
}
