// ClusterMember: one node's part in a cluster, assembled. It owns the gRPC
// server and the peers, the control plane (etcd membership, the table), the
// configuration log, the replicator and the router, and keeps the shards'
// partition roles in step with the table.
//
// Start order (node.ts): `create` binds the gRPC server and catches the
// configuration log up from etcd (not a member yet); the engine starts with
// `makeRouter`; `attach` routes configuration writes through the log and
// subscribes to the shards' records; realms reach the shards, the master
// realm is ensured and the HTTP servers listen; then `join` takes a lease
// and the member key and starts obeying tables, so a member is never a node
// still busy starting. `leave` is the graceful exit: mark the member draining
// and wait (bounded) until its primaries were handed off to their backups,
// stop serving (forwarded commands are refused as not-served, which their
// senders retry), let what runs finish replicating, revoke the lease so the
// others take over at once, and close the gRPC server once the peers hung up
// (bounded).

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { PARTITION_COUNT } from '../constants.js';
import { EngineError } from '../errors.js';
import type { ActorPool } from '../host/actor-pool.js';
import type { AdminEvent, AdminEventQuery, EventQuery, EventSink, UserEvent } from '../events/event-sink.js';
import type { Engine } from '../host/engine.js';
import type { PartitionRouter } from '../host/partition-router.js';
import type { Command } from '../protocol/actor-messages.js';
import { partitionOfRecord, type ReplicatedRecord, type RecordEnvelope } from '../protocol/mutations.js';
import { shardOfPartition } from '../protocol/partition.js';
import { toWireError } from '../protocol/wire-error.js';
import { OP } from '../protocol/actor-ops.js';
import type { RealmStore } from '../realm/realm-store.js';
import type { LmdbEnv } from '../store/lmdb-env.js';
import type { RevokedTokens } from '../tokens/revoked-tokens.js';
import { ClusterRouter } from './cluster-router.js';
import { EtcdConfigLog } from './config-log.js';
import { rememberMembership, rememberedMembership, type RememberedMembership } from './node-identity.js';
import { describeCluster, describePartition, type ClusterDescription, type PartitionDescription } from './cluster-description.js';
import { ControlPlane, type MemberInfo } from './control-plane.js';
import { ACCUSATION_STANDING_MS, coordinate } from './coordinator.js';
import { FailureDetector, HEARTBEAT_MS, LINK_DOWN_MS, SUSPICION_MS } from './failure-detector.js';
import { inOneZone, isPending, roleCounts, roleOf, rolesOf, underReplicated, type PartitionTable } from './partition-table.js';
import { Peer } from './peer.js';
import { Replicator, type SlowReplication } from './replicator.js';
import { CHECK_INTERVAL_MS, channelCredentials, serverCredentials, TLS_LINKS, type ClusterCertificates, type ReloadOutcome, type TlsLink } from './cluster-certificates.js';
import { isPartition } from '../protocol/partition.js';
import { CopyChecks } from './copy-checks.js';
import { CLUSTER_PROTOCOL_VERSION, CLUSTER_SERVICE, SERVER_OPTIONS, type ForwardPayload, type ForwardReply, type ForwardRequest, type LinkBeat, type LinkFrame, type ReplicateAck, type ReplicateFrame, type ShippedCommand } from './wire.js';

/** How long the member set must hold still before the cluster's first table is written. */
const FORMATION_SETTLE_MS = 3_000;

/** How long a leaving node waits for its peers to hang up before it closes their streams. */
const LEAVE_HANGUP_MS = 1_000;

/** A replicated frame handed to the shards (or refused before): what to wait for, then the partition it completes. */
type HandedOver = { refused: string } | { work: Promise<unknown>; caughtUp: number | null; differ: Promise<number[]> | null };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The ops a primary may ship to its backups as commands. */
const SHIPPED_OPS: ReadonlySet<number> = new Set([OP.codePut, OP.codeTake, OP.loginFailurePut, OP.loginFailureRecord, OP.loginFailureRemove]);

const ALL_PARTITIONS = Array.from({ length: PARTITION_COUNT }, (_, p) => p);

/** How long a replicated frame may wait for this node to obey the sender's newer table. */
const TABLE_CATCH_UP_MS = 1_000;
/** A replicated frame acknowledged this long after it arrived is logged (where the time went). */
const SLOW_FRAME_MS = 500;
/** Replicated frames of one stream being applied at once (handed to the shards, not yet acknowledged). */
const APPLY_PIPELINE_FRAMES = 16;
/**
 * Transfer chunks of one stream being applied at once: a shard applies chunks
 * and live records in one queue, so a live record waits for at most this many
 * chunks (~1,500 records each) ahead of it, while the shard always has the
 * next chunk at hand.
 */
const APPLY_PIPELINE_CHUNKS = 2;
/** Progress reports are batched this long. */
const PROGRESS_REPORT_MS = 200;
/** Handoff releases are batched this long (each partition waits for its report: keep it short). */
const RELEASE_REPORT_MS = 20;
/** How long a graceful leave waits for its primaries to be handed off. */
const HANDOFF_WAIT_MS = 5_000;
/** Promotions wait this long for more progress reports, so that one table promotes many partitions. */
const PROMOTION_BATCH_MS = 200;
/** How long an event query waits for the other members. */
const GATHER_DEADLINE_MS = 2_000;
/** A peer's heartbeat older than this does not count as a confirmation (etcd outage rule). */
const CONFIRMATION_MAX_AGE_MS = 1_000;
/**
 * How long a coordinator that joined again after an etcd outage waits for the
 * table's other members to join again before it drops them: after an etcd
 * that expired every lease, their keys come back within a renewal round or
 * two of its own.
 */
const REJOIN_GRACE_MS = 2_000;
/**
 * How long a coordinator that restarted as the incarnation it was (its disk
 * holds the copies the table gives it), or that finds none of the table's
 * members in the view, waits for the table's (other) members before it
 * drops them: after every node stopped, they restart (and read their disks)
 * at their own pace, and a member dropped meanwhile comes back new, its
 * copies lost to the cluster (docs/cluster.md, "Whole-cluster restart").
 */
export const RESTART_GRACE_MS = 15_000;

export interface ClusterMemberOptions {
  etcd: string[];
  cluster: string;
  node: string;
  host: string;
  grpcPort: number;
  advertise: string | null;
  /** This node's zone (rack, availability zone): a partition's copies go to different zones while there are enough (null: none). */
  zone: string | null;
  /** Mutual TLS between members (cluster-certificates.ts), or null for plaintext links. */
  tls: ClusterCertificates | null;
  /** TLS to etcd: its certificates, renewed without a restart (cluster-certificates.ts), or null for plaintext. */
  etcdTls: ClusterCertificates | null;
  owners: number;
  replicateTimeoutMs: number;
  touchReplicationIntervalMs: number;
  /** Each partition's backup copies are compared with its primary's once per period (copy-checks.ts); 0: never. */
  copyCheckPeriodMs: number;
  log: Logger;
  env: LmdbEnv;
  store: RealmStore;
  revoked: RevokedTokens;
  nowSeconds(): number;
}

interface PeerState {
  table: number;
  config: number;
  etcd: boolean;
  view: number;
  /** The peer has partitions on their way to this node (LinkBeat.sending). */
  sendsHere: boolean;
  atMs: number;
}

export interface ClusterStatus {
  members: number;
  suspected: number;
  viewRevision: number;
  coordinator: boolean;
  leaseValid: boolean;
  primary: number;
  backup: number;
  pending: number;
  underReplicated: number;
  /** Partitions whose copies all lie in one zone while the members span several. */
  inOneZone: number;
  configRevision: number;
}

/** What the metrics follow (cluster-metrics.ts sets it; no-ops until then). */
export interface ClusterObserver {
  forwarded(peer: string, seconds: number, ok: boolean): void;
  wrongOwner(): void;
  replicationAck(seconds: number): void;
  viewChanged(reason: 'join' | 'leave'): void;
  heartbeatRtt(seconds: number): void;
}

export const NO_OBSERVER: ClusterObserver = { forwarded() {}, wrongOwner() {}, replicationAck() {}, viewChanged() {}, heartbeatRtt() {} };

export class ClusterMember {
  readonly #options: ClusterMemberOptions;
  readonly #log: Logger;
  readonly #server: grpc.Server;
  readonly #plane: ControlPlane;
  readonly #config: EtcdConfigLog;
  readonly #peers = new Map<string, Peer>();
  readonly #peerStates = new Map<string, PeerState>();
  readonly #detector: FailureDetector;
  readonly #replicator: Replicator;
  readonly #copyChecks: CopyChecks;
  #router: ClusterRouter | null = null;
  #engine: Engine | null = null;
  #events: EventSink | null = null;
  /** The table the shards obey (roles applied). */
  #table: PartitionTable | null = null;
  /** The etcd revision at which #table was written. */
  #tableRevision = 0;
  /**
   * The newest table whose roles the shards have been asked for, perhaps not
   * all moved yet: replicated frames of it can be handed over already, since
   * a shard runs commands in the order it is sent them (records of a
   * partition being promoted apply to its copy, which the promotion moves).
   */
  #accepted: PartitionTable | null = null;
  #obeying: Promise<void> = Promise.resolve();
  readonly #tableWaiters = new Set<() => void>();
  readonly #acceptWaiters = new Set<() => void>();
  /** Partitions this node caught up on while pending, and the primary that filled each. */
  readonly #caughtUp = new Map<number, string>();
  /** The member view the last progress report was made under. */
  #reportedView = 0;
  /** Partitions this node drains for a handoff, and those it has released (now passive here). */
  readonly #releasing = new Set<number>();
  readonly #released = new Set<number>();
  /** Batched etcd writes and coordinator rounds: what asks for them meanwhile goes in the same one. */
  readonly #releaseReport = new Later(RELEASE_REPORT_MS, () => this.#reportReleased());
  readonly #progressReport = new Later(PROGRESS_REPORT_MS, () => this.#reportProgress());
  readonly #promotionRound = new Later(PROMOTION_BATCH_MS, () => this.#coordinate());
  #ticker: NodeJS.Timeout | null = null;
  #certificateCheck: NodeJS.Timeout | null = null;
  /** Per link, the reason the last periodic reload was refused ('' after a success): each reason is logged once. */
  readonly #refusedReload: Record<TlsLink, string> = { peers: '', etcd: '' };
  #coordinating = false;
  #formedAt = 0;
  #lostTotal = 0;
  #closed = false;
  readonly counters = {
    transferredSessions: 0,
    degradedAcks: 0,
    certificateReloads: { peers: { reloaded: 0, refused: 0 }, etcd: { reloaded: 0, refused: 0 } } as Record<TlsLink, { reloaded: number; refused: number }>,
    copiesChecked: 0,
    copiesRefilled: 0,
  };
  observer: ClusterObserver = NO_OBSERVER;
  #viewMembers = new Set<string>();
  /** performance.now() of the last change of the member set. */
  #viewChangedAtMs = performance.now();
  readonly #address: string;
  /** What every channel to a peer is built with (one secure context for all of them). */
  readonly #channelCredentials: grpc.ChannelCredentials;
  #grpcPort = 0;
  readonly #slowLog: ThrottledLog;
  /** Why this node did not serve when last noted (null: it served); for the log. */
  #notServing: string | null = 'not joined';
  #notServingSinceMs = 0;
  /** The lease under which a shard worker died: the node serves nothing more under it. */
  #shardLostIn: string | null = null;
  /** The lease under which this node was last ready with every partition fully copied (see `ready`). */
  #readyUnderLease: string | null = null;
  /** When this node last learned it was evicted (it joins again only on heartbeats heard since). */
  #evictedAtMs = 0;
  /** When this node last joined again after an etcd outage (see REJOIN_GRACE_MS). */
  #rejoinedAfterOutageAtMs = -Infinity;
  /** The membership its data directory remembers from before this process (see join). */
  #remembered: RememberedMembership | null;
  /** When this node joined as the incarnation it was before a restart (see RESTART_GRACE_MS). */
  #restartedAtMs = -Infinity;
  /** When this process joined the view. */
  #joinedAtMs = -Infinity;
  /** Each peer's member record when last seen: one that comes back as the same incarnation is resynchronised. */
  readonly #lastSeen = new Map<string, MemberInfo>();

  private constructor(options: ClusterMemberOptions, server: grpc.Server, address: string) {
    this.#options = options;
    this.#log = options.log.child({ log: 'cluster' });
    this.#server = server;
    this.#address = address;
    this.#channelCredentials = channelCredentials(options.tls);
    this.#slowLog = new ThrottledLog(this.#log, 1_000);
    this.#remembered = rememberedMembership(options.env);
    this.#plane = new ControlPlane({
      hosts: options.etcd,
      tls: options.etcdTls,
      cluster: options.cluster,
      node: options.node,
      address,
      zone: options.zone,
      log: this.#log,
      mayRejoin: () => this.#mayRejoin(),
      keepIncarnation: () => this.#mayKeepIncarnation(),
    });
    this.#config = new EtcdConfigLog({
      ns: this.#plane.namespace,
      apply: (op) => (op.op === 'revokeToken' ? options.revoked.apply(op) : options.store.apply(op)),
      env: options.env,
      log: this.#log,
      peerRevisions: () => this.#livePeers().map((n) => this.#peerStates.get(n)?.config ?? 0),
    });
    this.#detector = new FailureDetector((node, suspected, reason) => {
      this.#log.warn({ peer: node, suspected, ...(reason !== undefined ? { reason } : {}) }, suspected ? 'peer suspected' : 'peer heard again');
      void this.#plane.accuse(node, suspected).catch(() => {});
    });
    this.#replicator = new Replicator({
      self: options.node,
      timeoutMs: options.replicateTimeoutMs,
      touchIntervalMs: options.touchReplicationIntervalMs,
      peer: (node) => this.#peers.get(node),
      peerTable: (node) => this.#peerStates.get(node)?.table ?? 0,
      peerProtocol: (node) => this.#plane.member(node)?.protocol ?? CLUSTER_PROTOCOL_VERSION,
      exportPartition: (p) => this.#engine!.exportPartition(p),
      onTimeout: (node) => this.#detector.replicationTimedOut(node),
      onRecovered: (node) => this.#detector.replicationRecovered(node),
      onAck: (seconds) => this.observer.replicationAck(seconds),
      onTransferred: (sessions) => (this.counters.transferredSessions += sessions),
      onResync: (peer, partitions, reason) => this.#log.info({ peer, partitions, reason }, 'sending a peer that may have missed changes its partitions again'),
      onDelivered: (peer) => this.#log.info({ peer }, 'a peer has every partition this node was sending it'),
      onDegraded: () => (this.counters.degradedAcks += 1),
      onSlow: (slow) => this.#logSlow(slow),
    });
    this.#copyChecks = new CopyChecks({
      self: options.node,
      periodMs: options.copyCheckPeriodMs,
      table: () => this.#table,
      ready: () => this.#engine !== null && !this.#closed && !this.#replicator.transferring && this.serving,
      digests: (partitions) => this.#engine!.partitionDigests(partitions),
      check: (node, partitions, digests) => this.#replicator.check(node, partitions, digests),
      refill: (node, partition) => this.#replicator.refill(node, partition),
      onChecked: (copies) => (this.counters.copiesChecked += copies),
      onRefill: (node, partition) => {
        this.counters.copiesRefilled++;
        this.#log.warn({ peer: node, partition }, 'a backup copy differs from its primary in two checks in a row: it is sent its partition again');
      },
    });
  }

  /**
   * Binds the gRPC server and catches up with the cluster's configuration in
   * etcd. The node is not a member yet: join() makes it one once it can do
   * a member's work (see join).
   */
  static async create(options: ClusterMemberOptions): Promise<ClusterMember> {
    const server = new grpc.Server(SERVER_OPTIONS);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host}:${options.grpcPort}`, serverCredentials(options.tls), (err, bound) => (err === null ? resolve(bound) : reject(err))),
    );
    const address = options.advertise ?? `${options.host}:${port}`;
    const member = new ClusterMember(options, server, address);
    member.#grpcPort = port;
    server.addService(CLUSTER_SERVICE, {
      Link: (call: grpc.ServerDuplexStream<LinkFrame & { echo?: number }, unknown>) => member.#serveLink(call),
      Forward: (call: grpc.ServerDuplexStream<ForwardRequest[], ForwardReply[]>) => member.#serveForward(call),
      Replicate: (call: grpc.ServerDuplexStream<ReplicateFrame, ReplicateAck>) => member.#serveReplicate(call),
    });
    try {
      await member.#plane.reach();
      await member.#config.start();
      member.#formedAt = await member.#formationTime();
      await member.#checkRemembered();
    } catch (err) {
      server.forceShutdown();
      await member.#plane.close();
      throw err;
    }
    return member;
  }

  /**
   * A remembered membership whose table is no longer etcd's cannot be kept
   * (join would come back new): start-up then does not load what the disk
   * holds, only to drop it (a node that left gracefully, or was replaced
   * while it was down, comes back so).
   */
  async #checkRemembered(): Promise<void> {
    const remembered = this.#remembered;
    if (remembered === null) return;
    const current = await this.#plane.readTableRevision();
    if (current === remembered.tableRevision) return;
    this.#log.info({ remembered: remembered.tableRevision, current }, 'the partition table changed since this node last ran: it joins as a new member, and its disk\'s partitions are not loaded');
    this.#remembered = null;
  }

  /** The cluster's formation time (epoch s): the refresh-reuse rule's server start on every node. */
  get formedAt(): number {
    return this.#formedAt;
  }

  get node(): string {
    return this.#options.node;
  }

  /** The realm store this member keeps in step with the cluster's configuration log. */
  get store(): RealmStore {
    return this.#options.store;
  }

  /** The revoked access-token ids, kept in step the same way. */
  get revoked(): RevokedTokens {
    return this.#options.revoked;
  }

  makeRouter(pool: ActorPool): PartitionRouter {
    this.#router = new ClusterRouter(
      pool,
      {
        self: this.#options.node,
        table: () => this.#table,
        serving: () => this.serving,
        peer: (node) => this.#peers.get(node),
        tableChange: (ms) => this.#nextTable(ms),
        nowSeconds: () => this.#options.nowSeconds(),
        forwarded: (peer, seconds, ok) => this.observer.forwarded(peer, seconds, ok),
        slowForward: (slow) => this.#slowLog.write('forward', 'a forwarded command waited long for its primary', slow),
        wrongOwner: () => this.observer.wrongOwner(),
      },
      this.#replicator,
    );
    return this.#router;
  }

  /** Wires the engine in: writes go through the cluster's configuration log, records flow to backups, event queries reach every member. */
  attach(engine: Engine, events: EventSink): void {
    this.#engine = engine;
    this.#events = events;
    events.usePeers({
      queryEvents: (realm, filter) => this.#gather<UserEvent[]>({ kind: 'events', admin: false, realm, filter, budgetMs: GATHER_DEADLINE_MS }),
      queryAdminEvents: (realm, filter) => this.#gather<AdminEvent[]>({ kind: 'events', admin: true, realm, filter, budgetMs: GATHER_DEADLINE_MS }),
      clear: async (realm, admin) => {
        await this.#gather({ kind: 'eventsClear', admin, realm, budgetMs: GATHER_DEADLINE_MS });
      },
    });
    this.#options.store.useLog(this.#config);
    this.#options.revoked.useLog(this.#config);
    engine.on('records', (_shard: number, envelopes: RecordEnvelope[]) => this.#replicator.onRecords(envelopes));
    this.#plane.on('view', () => this.#onView());
    this.#plane.on('table', (table: PartitionTable, revision: number) => this.#obey(table, revision));
    this.#plane.on('progress', () => this.#promotionRound.schedule());
    // A released partition waits for its new primary: no batching beyond the reporter's own.
    this.#plane.on('released', () => this.#coordinate());
    this.#plane.on('suspects', () => this.#coordinate());
    this.#plane.on('etcd', (reachable: boolean, outageMs: number) => {
      if (reachable) this.#log.info({ outageMs }, 'etcd reachable again');
      else this.#log.warn('etcd unreachable: serving on the frozen view while every member confirms it lost etcd too');
    });
    this.#plane.on('evicted', () => {
      this.#evictedAtMs = performance.now();
      this.#log.warn('evicted from the view: serving nothing until it joins again as the incarnation the table names, or a table includes its new one');
      // Not ERR_NOT_SERVING: these commands ran here, and a sender must not run them again elsewhere.
      this.#replicator.abandon(new EngineError('ERR_REPLICATION_FAILED', 'this node was evicted from the cluster view before its copies acknowledged'));
    });
    this.#plane.on('rejoined', (kept: boolean, afterOutage: boolean) => {
      if (afterOutage) this.#rejoinedAfterOutageAtMs = performance.now();
      if (kept) this.#keptIncarnation();
    });
  }

  /**
   * Joins the view (lease, member key) and starts obeying tables. A node
   * joins last in its start-up, once its shards run and its realms are
   * applied: from the moment it is a member the coordinator gives it
   * partitions, its peers send it transfers and watch its heartbeats, and a
   * node still busy starting would acknowledge late, fall silent, and be
   * evicted for it.
   *
   * A node whose data directory remembers a membership (restoresFromDisk:
   * start-up loaded its partitions from disk first) joins as that
   * incarnation when etcd's table is still the one it obeyed: the table
   * gives it back the partitions its disk holds, and as coordinator it waits
   * RESTART_GRACE_MS for the table's other members. Otherwise it joins as a
   * new member and the first table it obeys makes it drop what it loaded.
   */
  async join(): Promise<void> {
    if (this.#engine === null) throw new Error('attach the engine before joining');
    // The grace holds from the start: joining runs the first coordinator rounds already.
    if (this.#remembered !== null) this.#restartedAtMs = performance.now();
    this.#joinedAtMs = performance.now();
    const kept = await this.#plane.start(this.#remembered);
    if (!kept) this.#restartedAtMs = -Infinity;
    // Back from its disk as the member the table names: a change in flight when it stopped may be on one owner only.
    else this.#copyChecks.sweepSoon();
    const restart = this.#remembered === null ? {} : { restart: kept ? 'same incarnation: the table did not change meanwhile, the partitions on disk are kept' : 'new incarnation: the table changed meanwhile, the partitions on disk are dropped' };
    this.#log.info({ address: this.#address, grpcPort: this.#grpcPort, tls: this.#options.tls !== null, etcdTls: this.#options.etcdTls !== null, zone: this.#options.zone, members: this.#plane.view.members.map((m) => m.node), ...restart }, 'joined the cluster');
    this.#notServingSinceMs = performance.now();
    this.#ticker = setInterval(() => this.#tick(), HEARTBEAT_MS);
    this.#copyChecks.start();
    if (this.#options.tls !== null || this.#options.etcdTls !== null) this.#certificateCheck = setInterval(() => this.reloadCertificates(false), CHECK_INTERVAL_MS).unref();
    this.#onView();
    const table = this.#plane.table;
    if (table !== null) this.#obey(table, this.#plane.tableRevision);
  }

  /** Whether start-up should load the partitions this node's disk holds: it was a member before this process, and may come back as that member (see join). */
  get restoresFromDisk(): boolean {
    return this.#remembered !== null;
  }

  /** This node may answer: its lease is provably alive (or every member confirms the same frozen view), and it obeys a table that includes it. */
  get serving(): boolean {
    const reason = this.#notServingBecause();
    this.#noteServing(reason);
    return reason === null;
  }

  /**
   * A shard worker of this node died: the worker started in its place holds
   * only what its journal restores (nothing with --durability snapshot), and
   * its copies miss what was on its way to them. The node stops serving at
   * once and leaves the view by revoking its own lease: the other owners
   * serve meanwhile, and it joins again as a new member and is sent fresh
   * copies. A node holding the only copy of one of that shard's partitions
   * stays instead (on what the journal restores): leaving would drop even that.
   */
  shardExited(shard: number): void {
    const table = this.#table;
    if (this.#closed || table === null || !this.#inTable(table) || this.#shardLostIn === this.#plane.leaseId) return;
    const self = this.#options.node;
    const onlyCopies = table.owners.filter((o, p) => o.length === 1 && o[0] === self && shardOfPartition(p, this.#engine!.shards) === shard).length;
    if (onlyCopies > 0) {
      this.#log.error({ shard, onlyCopies }, 'a shard worker died; staying in the view on what its journal restores, since this node holds the only copy of some of its partitions');
      return;
    }
    this.#log.error({ shard }, 'a shard worker died and its copies with it: leaving the view to join again as a new member and be sent fresh copies');
    this.#shardLostIn = this.#plane.leaseId;
    void this.#plane.evict(self, 'revoking this node\'s own lease (a shard worker died)').catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'revoking this node\'s own lease failed; it lapses instead'));
  }

  /** A restarted shard worker starts with a single node's roles: the table's are applied to it again. */
  shardRestarted(): void {
    if (this.#closed || this.#table === null) return;
    this.#obeying = this.#obeying.then(() => this.#engine!.setPartitionRoles(this.#rolesFor(this.#table!), this.#promotionGraceSeconds)).catch(() => {});
  }

  /** Why this node may not answer now (null: it may). */
  #notServingBecause(): string | null {
    if (this.#closed) return 'left';
    if (this.#shardLostIn === this.#plane.leaseId) return 'a shard worker died: joining again as a new member';
    if (this.#table === null || !this.#inTable(this.#table)) return 'no table includes this node yet';
    if (this.#plane.leaseValid) return null;
    if (this.#plane.etcdReachable) return 'lease lapsed (not renewed in time)';
    const unconfirmed = this.#frozenViewUnconfirmedBy();
    return unconfirmed.length === 0 ? null : `etcd unreachable and not every member confirms the frozen view (${unconfirmed.join(', ')})`;
  }

  /** Whether the table counts this incarnation of the node as a member (a restarted node holds nothing the table remembers). */
  #inTable(table: PartitionTable): boolean {
    return table.members.includes(this.#options.node) && table.incarnations[this.#options.node] === this.#plane.incarnation;
  }

  /**
   * Whether this node, its lease lapsed, still holds what the table it obeys
   * gives it: that table names this incarnation, and no shard worker died
   * under the lease. Returns that table's revision (the join keeps the
   * incarnation only if it is still etcd's table), or null. Not while a
   * member of the table runs a version that knows members by their lease
   * alone (a rolling upgrade): as coordinator it would take this node for a
   * new member while the node took itself for the old one.
   */
  #mayKeepIncarnation(): number | null {
    const table = this.#table;
    if (this.#closed || table === null || this.#shardLostIn === this.#plane.leaseId || !this.#inTable(table)) return null;
    const self = this.#options.node;
    return table.members.every((node) => node === self || this.#lastSeen.get(node)?.keepsIncarnation === true) ? this.#tableRevision : null;
  }

  /**
   * Joined again as the same incarnation: the table still counts on this
   * node's copies, and serving resumes with the new lease. What was on its
   * way to the backups when the lease lapsed was abandoned, so each of them
   * is sent its partitions again (a resync); reports written under the old
   * lease went with it and are written again.
   */
  #keptIncarnation(): void {
    for (const node of this.#peers.keys()) this.#replicator.resync(node, 'this node joined again as the incarnation it was: what was on its way was dropped');
    this.#copyChecks.sweepSoon();
    if (this.#caughtUp.size > 0) this.#progressReport.schedule();
    if (this.#released.size > 0) this.#releaseReport.schedule();
    this.#coordinate();
  }

  /**
   * Ready for traffic: serving, and configuration applied (no write waiting
   * > 1 s). A node that (re)joined is ready only once, besides, nothing is
   * pending anywhere and every partition is fully copied: a rolling restart
   * that waits for the restarted node's readiness never takes down the last
   * copy. From then on, as long as it keeps its lease, another member's
   * failure or return (partitions under-replicated, copies being sent to it
   * or to the returning node) leaves it ready: it serves meanwhile, and a
   * load balancer that dropped every survivor would turn a failover into an
   * outage.
   */
  get ready(): boolean {
    const table = this.#table;
    if (!this.serving || table === null || this.#config.lagging) return false;
    if (this.#readyUnderLease === this.#plane.leaseId) return true;
    if (isPending(table, this.#options.node) || underReplicated(table, this.#options.owners) > 0 || table.pending.some((p) => p.length > 0)) return false;
    if (this.#copiesOnTheirWay()) return false;
    this.#readyUnderLease = this.#plane.leaseId;
    return true;
  }

  /**
   * Whether a live peer may still be sending this node partitions outside the
   * table's pending copies: a primary resynchronises a backup back as the
   * incarnation it was (its lease lapsed, or every node restarted and it came
   * back late), and the table shows no such transfer. True until every live
   * peer's heartbeat, sent from a view that holds this node's member key as
   * written under its current lease, says it sends this node nothing.
   */
  #copiesOnTheirWay(): boolean {
    const self = this.#plane.member(this.#options.node);
    if (self === undefined || self.lease !== this.#plane.leaseId) return true;
    return this.#livePeers().some((node) => {
      const state = this.#peerStates.get(node);
      return state === undefined || state.view < self.modRevision || state.sendsHere;
    });
  }

  /** The certificates of each TLS link: between members (`peers`) and to etcd (`etcd`); null for a plaintext one. */
  get certificates(): Record<TlsLink, ClusterCertificates | null> {
    return { peers: this.#options.tls, etcd: this.#options.etcdTls };
  }

  /**
   * Reads the TLS files of each link again (every CHECK_INTERVAL_MS, and on
   * SIGHUP): a renewed set is used by the next handshakes, a set that fails
   * the checks is refused and the current one kept (cluster-certificates.ts).
   * `asked`: an operator asked (SIGHUP), so every outcome is logged; the
   * periodic check logs a change, and a refusal once per reason. Null when
   * no link has TLS.
   */
  reloadCertificates(asked = true): Partial<Record<TlsLink, ReloadOutcome>> | null {
    const links = TLS_LINKS.filter((link) => this.certificates[link] !== null);
    if (links.length === 0) return null;
    return Object.fromEntries(links.map((link) => [link, this.#reload(link, this.certificates[link]!, asked)]));
  }

  #reload(link: TlsLink, certificates: ClusterCertificates, asked: boolean): ReloadOutcome {
    const what = link === 'peers' ? 'cluster certificates' : 'etcd certificates';
    const result = certificates.reload();
    const counts = this.counters.certificateReloads[link];
    if (result.outcome === 'reloaded') {
      counts.reloaded++;
      this.#refusedReload[link] = '';
      const expiresAt = certificates.expiresAt;
      this.#log.info(expiresAt === null ? {} : { expiresAt: new Date(expiresAt * 1000).toISOString() }, `${what} reloaded: new connections use them`);
    } else if (result.outcome === 'refused') {
      counts.refused++;
      if (asked || result.reason !== this.#refusedReload[link]) this.#log.warn({ reason: result.reason }, `${what} not reloaded: the files fail the checks; the current ones stay in use`);
      this.#refusedReload[link] = result.reason;
    } else if (asked) {
      this.#log.info(`${what} unchanged`);
    }
    return result;
  }

  /** The cluster as this node sees it (`GET /cluster` on the management port). */
  describe(): ClusterDescription {
    return describeCluster({
      cluster: this.#options.cluster,
      node: this.#options.node,
      zone: this.#options.zone,
      owners: this.#options.owners,
      serving: this.serving,
      ready: this.ready,
      leaseValid: this.#plane.leaseValid,
      etcdReachable: this.#plane.etcdReachable,
      coordinator: this.#plane.coordinator,
      viewRevision: this.#plane.view.revision,
      members: this.#plane.view.members,
      suspected: this.#detector.suspected,
      unsent: this.#replicator.unsent,
      sendingHere: new Set([...this.#peerStates].filter(([, state]) => state.sendsHere).map(([node]) => node)),
      table: this.#table,
      tableRevision: this.#tableRevision,
    });
  }

  /** Who holds `partition` in the table this node obeys (null before the first table). */
  describePartition(partition: number): PartitionDescription | null {
    return describePartition(this.#table, partition);
  }

  status(): ClusterStatus {
    const table = this.#table;
    const roles = table === null ? null : rolesOf(table, this.#options.node);
    const { backup, pending } = (table === null ? undefined : roleCounts(table).get(this.#options.node)) ?? { backup: 0, pending: 0 };
    return {
      members: this.#plane.view.members.length,
      suspected: this.#detector.suspected.size,
      viewRevision: this.#plane.view.revision,
      coordinator: this.#plane.isCoordinator,
      leaseValid: this.#plane.leaseValid,
      // A partition this node hands off is no longer served here (refused, then released).
      primary: roles?.primary.filter((p) => !this.#handingOff(table!, p)).length ?? 0,
      backup,
      pending,
      underReplicated: table === null ? 0 : underReplicated(table, this.#options.owners),
      inOneZone: table === null ? 0 : inOneZone(table),
      configRevision: this.#config.applied,
    };
  }

  get lostTotal(): number {
    return this.#lostTotal;
  }

  /**
   * Graceful leave: stop serving, so forwarded commands are refused and their
   * senders retry on the next table; idle clocks and in-flight records reach
   * the backups (bounded); then the lease goes at once, so the survivors take
   * over without waiting for its TTL.
   */
  async leave(): Promise<void> {
    if (this.#closed) return;
    const started = performance.now();
    const since = (): number => Math.round(performance.now() - started);
    await this.#handOffPrimaries();
    const handedOffMs = since();
    this.#closed = true; // from here on, commands forwarded to this node are refused (retried by their senders)
    this.#replicator.flushTouches();
    await Promise.race([this.#replicator.whenAllReplicated().catch(() => {}), sleep(this.#options.replicateTimeoutMs)]);
    const replicatedMs = since();
    if (this.#ticker !== null) clearInterval(this.#ticker);
    if (this.#certificateCheck !== null) clearInterval(this.#certificateCheck);
    for (const later of [this.#progressReport, this.#promotionRound, this.#releaseReport]) later.cancel();
    this.#detector.close();
    await this.#plane.close();
    const leaseRevokedMs = since();
    this.#config.close();
    this.#copyChecks.close();
    this.#replicator.close();
    for (const peer of this.#peers.values()) peer.close();
    // The peers hang up their streams to this node once they see its lease gone; until then a
    // forwarded command still gets its refusal rather than a dropped connection.
    await Promise.race([new Promise<void>((resolve) => this.#server.tryShutdown(() => resolve())), sleep(LEAVE_HANGUP_MS)]);
    this.#server.forceShutdown();
    this.#log.info({ handedOffMs, replicatedMs, leaseRevokedMs, closedMs: since() }, 'left the view: primaries handed off, in-flight changes replicated, lease revoked, connections closed');
  }

  /**
   * Marks this member draining and waits (bounded) until the tables made
   * every partition it is primary of (and that has another owner) primary
   * elsewhere: the others then take over without a promotion after it left.
   */
  async #handOffPrimaries(): Promise<void> {
    if (this.#table === null || !this.serving) return;
    const deadline = performance.now() + HANDOFF_WAIT_MS;
    // etcd unreachable or slow: leave as before, the others promote after the lease goes.
    const marked = await Promise.race([this.#plane.drain().then(() => true, () => false), sleep(HANDOFF_WAIT_MS).then(() => false)]);
    if (!marked) return;
    const holds = (): boolean => this.#table?.owners.some((o) => o[0] === this.#options.node && o.length > 1) ?? false;
    while (holds() && performance.now() < deadline && this.serving) await this.#nextTable(deadline - performance.now());
  }

  // --- view, table, coordination ------------------------------------------------

  #onView(): void {
    const view = this.#plane.view;
    const nodes = new Set(view.members.map((m) => m.node));
    const joined = [...nodes].filter((node) => !this.#viewMembers.has(node));
    const left = [...this.#viewMembers].filter((node) => !nodes.has(node));
    joined.forEach(() => this.observer.viewChanged('join'));
    left.forEach(() => this.observer.viewChanged('leave'));
    if (joined.length > 0 || left.length > 0) {
      this.#viewChangedAtMs = performance.now();
      this.#log.info({ viewRevision: view.revision, joined, left }, 'view changed');
    }
    this.#viewMembers = nodes;
    for (const [node, peer] of this.#peers) {
      const member = this.#plane.member(node);
      // A peer that joined again is a new peer: fresh streams, and transfers start over.
      if (!nodes.has(node) || member?.address !== peer.address || member.lease !== peer.lease) {
        peer.close();
        this.#peers.delete(node);
        this.#peerStates.delete(node);
        this.#replicator.dropPeer(node);
      }
    }
    for (const member of view.members) {
      if (member.node === this.#options.node || this.#peers.has(member.node)) continue;
      this.#peers.set(member.node, new Peer(member.node, member.address, member.lease, this.#channelCredentials, (frame, rttMs) => this.#heard(frame, rttMs), () => this.#linkBroke()));
      // Back as the incarnation it was (its lease had lapsed): what was on its way to it was dropped with its streams.
      // A backup that replies were released without while it was away (one back after this node, when every node
      // restarted) missed those changes. Either is resynchronised.
      this.#replicator.peerBack(member.node, this.#lastSeen.get(member.node)?.incarnation === member.incarnation);
      this.#lastSeen.set(member.node, member);
    }
    this.#coordinate();
  }

  /** Applies a table's roles to the shards, in order; only then do the router and replicator use it. */
  #obey(table: PartitionTable, revision: number): void {
    const seen = performance.now();
    this.#obeying = this.#obeying.then(async () => {
      if (this.#table !== null && table.version <= this.#table.version) return;
      // A table of another incarnation of this node gives this one nothing.
      const releasedBefore = this.#released.size;
      for (const p of [...this.#released]) if (!this.#handingOff(table, p)) this.#released.delete(p);
      if (this.#released.size < releasedBefore) this.#releaseReport.schedule(); // a stale report would hold new handoffs back
      const roles = this.#engine!.setPartitionRoles(this.#rolesFor(table), this.#promotionGraceSeconds);
      this.#accepted = table;
      for (const wake of this.#acceptWaiters) wake();
      this.#acceptWaiters.clear();
      await roles;
      this.#table = table;
      this.#tableRevision = revision;
      this.#replicator.setTable(table);
      // What a restart needs to come back as this member. It may commit before the shards' own writes
      // for this table: a restart that finds this table in etcd applies its roles again to what it loaded.
      const membership = this.#inTable(table) ? { incarnation: this.#plane.incarnation, tableRevision: revision } : null;
      rememberMembership(this.#options.env, membership).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'recording this node\'s membership on disk failed'));
      // A partition no longer pending here, or whose primary changed (the new one fills it anew), is
      // no longer reported; a new view is reported under its revision.
      const reported = this.#caughtUp.size;
      for (const [p, from] of [...this.#caughtUp]) if (!table.pending[p]!.includes(this.#options.node) || table.owners[p]![0] !== from) this.#caughtUp.delete(p);
      if (this.#caughtUp.size < reported || (this.#caughtUp.size > 0 && table.viewRevision !== this.#reportedView)) this.#progressReport.schedule();
      for (const wake of this.#tableWaiters) wake();
      this.#tableWaiters.clear();
      const ms = Math.round(performance.now() - seen);
      this.#log.info({ version: table.version, viewRevision: table.viewRevision, members: table.members, ...rolesSummary(table, this.#options.node), ms }, 'partition table obeyed');
      this.#releaseHandoffs(table);
      this.#coordinate();
    }).catch((err: unknown) => this.#log.error({ err }, 'applying a partition table failed'));
  }

  /**
   * Promotion grace: how old the touches a promoted copy may lack can be (the
   * touch replication interval, and a second for the frame on its way): for
   * that long, sessions whose idle deadline passed by less are not ended.
   */
  get #promotionGraceSeconds(): number {
    return Math.ceil(this.#options.touchReplicationIntervalMs / 1000) + 1;
  }

  /** This incarnation's roles in the table: none at all when the table does not count it. */
  #rolesFor(table: PartitionTable): ReturnType<typeof rolesOf> {
    return this.#inTable(table) ? this.#rolesOf(table) : { primary: [], passive: [], none: ALL_PARTITIONS };
  }

  /** This node's roles under `table`: a partition it released for a handoff is already a passive copy. */
  #rolesOf(table: PartitionTable): ReturnType<typeof rolesOf> {
    const roles = rolesOf(table, this.#options.node);
    if (this.#released.size === 0) return roles;
    return { ...roles, primary: roles.primary.filter((p) => !this.#released.has(p)), passive: [...roles.passive, ...this.#released] };
  }

  /** Whether `table` asks this node to hand `partition` off. */
  #handingOff(table: PartitionTable, partition: number): boolean {
    return table.handoff?.[partition] !== undefined && table.owners[partition]![0] === this.#options.node;
  }

  /**
   * The handoffs the obeyed table asks of this node, released together: once
   * the commands under way for them finished and replicated (new ones are
   * refused since this table), the shard gives up its primary role for all
   * of them at once and they are reported released in one write, so the
   * coordinator names their new primaries in one table.
   */
  #releaseHandoffs(table: PartitionTable): void {
    const fresh = Object.keys(table.handoff ?? {})
      .map(Number)
      .filter((p) => this.#handingOff(table, p) && !this.#released.has(p) && !this.#releasing.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.#releasing.add(p);
    void Promise.all(fresh.map((p) => this.#router!.drained(p))).then(() => {
      this.#obeying = this.#obeying.then(async () => {
        for (const p of fresh) this.#releasing.delete(p);
        const still = fresh.filter((p) => this.#table !== null && this.#handingOff(this.#table, p));
        if (still.length === 0) return;
        await this.#engine!.setPartitionRoles({ primary: [], passive: still, none: [] });
        for (const p of still) this.#released.add(p);
        this.#releaseReport.schedule();
      }).catch((err: unknown) => this.#log.error({ err, partitions: fresh.length }, 'releasing partitions for their handoff failed'));
    });
  }

  #reportReleased(): void {
    void this.#plane.reportReleased([...this.#released]).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'handoff report failed'));
  }

  /** Resolves when the next table is obeyed (or accepted, with `waiters` = #acceptWaiters), or after `ms`. */
  #nextTable(ms: number, waiters = this.#tableWaiters): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(wake);
        resolve();
      }, ms);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      waiters.add(wake);
    });
  }

  /** The coordinator's round: new table, promotions, evictions. */
  #coordinate(): void {
    if (this.#coordinating || this.#closed || !this.#plane.isCoordinator || !this.#plane.leaseValid) return;
    this.#coordinating = true;
    queueMicrotask(() => void this.#coordinateNow().finally(() => (this.#coordinating = false)));
  }

  async #coordinateNow(): Promise<void> {
    // Formation: nodes started together join within moments of each other; the first table waits
    // until the view held still for FORMATION_SETTLE_MS, so that every one of them gets primaries
    // at once (a later joiner first takes copies, then its primaries by handoff). The ticker asks
    // again every round.
    if (this.#plane.table === null && performance.now() - this.#viewChangedAtMs < FORMATION_SETTLE_MS) return;
    const view = this.#plane.view;
    const present = new Set(view.members.map((m) => m.node));
    const absent = this.#plane.table?.members.filter((node) => !present.has(node)) ?? [];
    // Back from an etcd that expired every lease, or restarted after every node stopped: the others are joining again as well.
    if (absent.length > 0 && performance.now() - this.#rejoinedAfterOutageAtMs < REJOIN_GRACE_MS) return;
    if (absent.length > 0 && performance.now() - this.#restartedAtMs < RESTART_GRACE_MS) return;
    // Not one member of the table is here: the cluster is starting again (the last node stopped may
    // not be the first started), and dropping them would lose every partition their disks hold.
    if (absent.length > 0 && absent.length === this.#plane.table!.members.length && performance.now() - this.#joinedAtMs < RESTART_GRACE_MS) return;
    const decision = coordinate({
      table: this.#plane.table,
      members: view.members.map((m) => m.node),
      incarnations: Object.fromEntries(view.members.map((m) => [m.node, m.incarnation])),
      zones: Object.fromEntries(view.members.flatMap((m) => (m.zone === undefined ? [] : [[m.node, m.zone]]))),
      viewRevision: view.revision,
      copies: this.#options.owners,
      progress: this.#plane.progressIn(this.#plane.table?.viewRevision ?? view.revision),
      released: this.#plane.released,
      draining: new Set(view.members.filter((m) => m.draining === true).map((m) => m.node)),
      suspects: this.#plane.suspects,
      standing: this.#plane.standingSuspects(ACCUSATION_STANDING_MS),
      joinOrder: this.#plane.joinOrder,
    });
    try {
      for (const node of decision.evict) await this.#plane.evict(node);
      if (decision.table !== null && (await this.#plane.writeTable(decision.table, absent))) {
        if (decision.lost.length > 0) {
          this.#lostTotal += decision.lost.length;
          this.#log.error({ partitions: decision.lost.length }, 'partitions lost: every owner left before a copy was made; they restart empty');
        }
      }
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'coordinator round failed; retrying on the next change');
    }
  }

  /**
   * Asks every other member the same question; members that do not answer in
   * time are left out (events are an audit trail: a partial page during an
   * outage beats none), and the omission is logged.
   */
  async #gather<T>(request: ForwardPayload): Promise<T[]> {
    const answers = await Promise.allSettled([...this.#peers.values()].map((peer) => peer.forward(request, GATHER_DEADLINE_MS) as Promise<T>));
    const out: T[] = [];
    answers.forEach((answer, i) => {
      if (answer.status === 'fulfilled') out.push(answer.value);
      else this.#log.warn({ peer: [...this.#peers.keys()][i], err: (answer.reason as Error).message }, 'a member did not answer an event query; its events are left out');
    });
    return out;
  }

  /** A slow or failed wait for copies, logged at most once a second (with how many others there were). */
  #logSlow(slow: SlowReplication): void {
    this.#slowLog.write('write', slow.failed ? 'a write failed waiting for its copies' : 'a write waited long for its copies', { ...slow });
  }

  /** A replicated frame acknowledged SLOW_FRAME_MS or more after it arrived: where the time went. */
  #logSlowFrame(frame: ReplicateFrame, ms: { queuedMs: number; tableWaitMs: number; applyMs: number }): void {
    const kind = frame.chunk !== undefined ? 'chunk' : frame.done !== undefined ? 'done' : 'records';
    const size = frame.chunk?.packed !== undefined ? { bytes: frame.chunk.packed.length } : { records: frame.chunk?.recs?.length ?? frame.recs?.length ?? 0 };
    const rounded = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
    this.#slowLog.write('frame', 'a replicated frame was acknowledged late', { from: frame.from, kind, ...size, table: frame.table, ...rounded });
  }

  // --- heartbeats ---------------------------------------------------------------

  #tick(): void {
    const beat = this.#beat();
    const hello: LinkFrame = { t: 'hello', node: this.#options.node, cluster: this.#options.cluster, protocol: CLUSTER_PROTOCOL_VERSION };
    for (const peer of this.#peers.values()) peer.beat(beat, hello);
    this.#judgePeers();
    this.#noteServing();
    // A lease about to lapse or an etcd outage may change who coordinates.
    this.#coordinate();
  }

  /** A failure-detector round over the peers as they are now. */
  #judgePeers(): void {
    if (this.#closed) return;
    this.#detector.tick(
      [...this.#peers.values()].map((peer) => ({
        node: peer.node,
        lease: peer.lease,
        heard: peer.heard,
        lastHeardMs: peer.lastHeardMs,
        linkDown: peer.linkDown,
        linkDownSinceMs: peer.linkDownSinceMs,
      })),
    );
  }

  /** A peer's Link stream broke: a round once it has been down LINK_DOWN_MS (a killed peer is judged then, not a beat later). */
  #linkBroke(): void {
    setTimeout(() => this.#judgePeers(), LINK_DOWN_MS + 1).unref();
  }

  #beat(): LinkBeat {
    const sending = [...this.#replicator.unsent.keys()];
    return {
      t: 'beat',
      node: this.#options.node,
      table: this.#table?.version ?? 0,
      config: this.#config.applied,
      etcd: this.#plane.etcdReachable,
      view: this.#plane.view.revision,
      ...(sending.length > 0 ? { sending } : {}),
    };
  }

  #heard(frame: LinkFrame, rttMs?: number): void {
    if (frame.t !== 'beat') return;
    if (rttMs !== undefined) this.observer.heartbeatRtt(rttMs / 1000);
    const before = this.#peerStates.get(frame.node)?.table ?? 0;
    if (frame.table > before) queueMicrotask(() => this.#replicator.peerProgressed(frame.node));
    const sendsHere = frame.sending?.includes(this.#options.node) === true;
    this.#peerStates.set(frame.node, { table: frame.table, config: frame.config, etcd: frame.etcd, view: frame.view, sendsHere, atMs: performance.now() });
    // A peer reaches etcd again: renew now, since the frozen view it no longer confirms was all this node served on.
    if (frame.etcd && !this.#plane.etcdReachable) this.#plane.renewSoon();
  }

  /**
   * Whether an evicted node may join again: it heard a majority of the other
   * members since its eviction (and within the suspicion window). Heartbeats
   * from before do not count: a node cut off from its peers but not from
   * etcd would otherwise join again at once on the last beats it heard.
   */
  #mayRejoin(): boolean {
    const others = [...this.#peers.values()];
    if (others.length === 0) return true;
    const now = performance.now();
    const heard = others.filter((peer) => !peer.linkDown && peer.lastHeardMs > this.#evictedAtMs && now - peer.lastHeardMs < SUSPICION_MS).length;
    return heard >= Math.floor(others.length / 2) + 1;
  }

  #livePeers(): string[] {
    return this.#plane.view.members.map((m) => m.node).filter((n) => n !== this.#options.node && !this.#detector.suspected.has(n));
  }

  /**
   * etcd outage rule: the members that did not recently confirm they lost
   * etcd too and hold our view (each with what it said instead). This node
   * serves on the frozen view only while the list is empty.
   */
  #frozenViewUnconfirmedBy(): string[] {
    const now = performance.now();
    const view = this.#plane.view;
    const out: string[] = [];
    for (const m of view.members) {
      if (m.node === this.#options.node) continue;
      const state = this.#peerStates.get(m.node);
      if (state === undefined || now - state.atMs >= CONFIRMATION_MAX_AGE_MS) out.push(`${m.node}: not heard`);
      else if (state.etcd) out.push(`${m.node}: reaches etcd`);
      else if (state.view !== view.revision) out.push(`${m.node}: view ${state.view}`);
    }
    return out;
  }

  /**
   * Logs each change of whether this node serves, with the reason it stopped:
   * noted by the heartbeat tick and wherever `serving` is read (every
   * request), so a gap shorter than a tick is logged too.
   */
  #noteServing(reason = this.#notServingBecause()): void {
    if (reason === this.#notServing) return;
    if (reason === null) this.#log.info({ after: this.#notServing, ms: Math.round(performance.now() - this.#notServingSinceMs) }, 'serving');
    else if (this.#notServing === null) {
      this.#notServingSinceMs = performance.now();
      this.#log.warn({ reason }, 'stopped serving');
    }
    this.#notServing = reason;
  }

  // --- the gRPC service -----------------------------------------------------------

  #serveLink(call: grpc.ServerDuplexStream<LinkFrame & { echo?: number }, unknown>): void {
    call.sendMetadata(new grpc.Metadata());
    call.on('data', (frame: LinkFrame & { echo?: number }) => {
      if (frame.t === 'hello') {
        if (frame.cluster !== this.#options.cluster || frame.protocol < CLUSTER_PROTOCOL_VERSION - 1) {
          this.#log.warn({ peer: frame.node, cluster: frame.cluster, protocol: frame.protocol }, 'refused a peer of another cluster or protocol version');
          call.end();
        }
        return;
      }
      this.#heard(frame);
      call.write({ ...this.#beat(), echo: frame.echo });
    });
    call.on('error', () => {});
  }

  #serveForward(call: grpc.ServerDuplexStream<ForwardRequest[], ForwardReply[]>): void {
    call.sendMetadata(new grpc.Metadata());
    // Answers that are ready in the same turn travel in one frame.
    let outbox: ForwardReply[] = [];
    const answer = (reply: ForwardReply): void => {
      if (outbox.length === 0) {
        setImmediate(() => {
          const batch = outbox;
          outbox = [];
          call.write(batch);
        });
      }
      outbox.push(reply);
    };
    call.on('data', (requests: ForwardRequest[]) => {
      for (const request of requests) {
        void this.#runForwarded(request).then(
          (ok) => answer({ id: request.id, ok }),
          (err: unknown) => answer({ id: request.id, err: toWireError(err) }),
        );
      }
    });
    call.on('error', () => {});
  }

  async #runForwarded(request: ForwardRequest): Promise<unknown> {
    const router = this.#router;
    if (router === null || !this.serving) throw new EngineError('ERR_NOT_SERVING');
    switch (request.kind) {
      case 'events':
        return request.admin
          ? this.#events!.queryAdminEvents(request.realm, request.filter as AdminEventQuery)
          : this.#events!.queryEvents(request.realm, request.filter as EventQuery);
      case 'eventsClear':
        return this.#events!.clear(request.realm, request.admin);
      case 'ask':
        return router.askLocal(request.partition, request.command);
      case 'many':
        return ClusterRouter.manyToWire(await router.askManyLocal(request.partitions, request.commands as Command[]));
      case 'scatter':
        return router.scatterLocal(request.command);
    }
  }

  /**
   * The backup side of a Replicate stream. Frames are handed to the shards in
   * arrival order without waiting for the frames before them to be applied (a
   * shard runs commands in the order it is sent them, so a partition's
   * records keep their order, and frames handed over in one turn travel to
   * the shard together), and are acknowledged in order once applied: a
   * transfer's chunks do not each pay a round trip to the shard. At most
   * APPLY_PIPELINE_FRAMES frames, APPLY_PIPELINE_CHUNKS of them chunks, are
   * being applied at once.
   */
  #serveReplicate(call: grpc.ServerDuplexStream<ReplicateFrame, ReplicateAck>): void {
    call.sendMetadata(new grpc.Metadata());
    let handedOver = Promise.resolve();
    let acknowledged = Promise.resolve();
    /** The acknowledgements of the frames handed over and not yet acknowledged, oldest first. */
    const applying: Promise<void>[] = [];
    let chunksApplying = 0;
    call.on('data', (frame: ReplicateFrame) => {
      const arrived = performance.now();
      const timing = { queuedMs: 0, tableWaitMs: 0 };
      const chunk = frame.chunk !== undefined;
      const started = handedOver.then(async () => {
        while (applying.length >= APPLY_PIPELINE_FRAMES || (chunk && chunksApplying >= APPLY_PIPELINE_CHUNKS)) await applying[0];
        timing.queuedMs = performance.now() - arrived;
        applying.push(ack);
        if (chunk) chunksApplying++;
        return this.#handOver(frame, timing).catch((err: unknown): HandedOver => ({ refused: (err as Error).message }));
      });
      handedOver = started.then(() => {});
      const ack = acknowledged.then(async () => {
        try {
          call.write({ ack: frame.f, ...(await this.#applied(frame, await started)) });
          const ms = performance.now() - arrived;
          if (ms >= SLOW_FRAME_MS) this.#logSlowFrame(frame, { ...timing, applyMs: ms - timing.queuedMs - timing.tableWaitMs });
        } catch {
          // The stream closed under it: the sender sends again on a new one.
        } finally {
          applying.shift();
          if (chunk) chunksApplying--;
        }
      });
      acknowledged = ack;
    });
    call.on('error', () => {});
  }

  /**
   * Waits until this node accepted the sender's table (its roles asked of the
   * shards: see #accepted) or gives up, then hands the frame's records and
   * commands to the shards. Only a partition's
   * primary (in this node's table, at least as new as the sender's) changes
   * its copies: a node that lost its primaries while it was hung or cut off
   * and still sends what it holds (a resync, a late frame) must not roll a
   * copy back.
   */
  async #handOver(frame: ReplicateFrame, timing: { tableWaitMs: number }): Promise<HandedOver> {
    if (this.#engine === null) return { refused: 'not started' };
    const waitStarted = performance.now();
    const deadline = waitStarted + TABLE_CATCH_UP_MS;
    while ((this.#accepted?.version ?? 0) < frame.table && performance.now() < deadline) await this.#nextTable(deadline - performance.now(), this.#acceptWaiters);
    timing.tableWaitMs = performance.now() - waitStarted;
    const table = this.#accepted;
    if (table === null || table.version < frame.table) return { refused: `table ${frame.table} not obeyed here yet` };
    const fromPrimary = (p: number): boolean => table.owners[p]?.[0] === frame.from;
    const work: Promise<unknown>[] = [];
    // Asked of the shard before the frame's chunk and records: a transfer starts from what the copy holds now.
    if (frame.fresh !== undefined && fromPrimary(frame.fresh) && roleOf(table, this.#options.node, frame.fresh) !== 'none') work.push(this.#engine.copyRefill(frame.fresh));
    if (frame.recs !== undefined) work.push(...this.#applyRecords(frame.recs.map((e) => e.m).filter((m) => fromPrimary(partitionOfRecord(m))), table));
    if (frame.cmds !== undefined) work.push(...this.#applyCommands(frame.cmds.filter((c) => fromPrimary(c.p)), table));
    if (frame.chunk !== undefined && fromPrimary(frame.chunk.p)) work.push(...this.#applyChunk(frame.chunk, table));
    // Asked after the frame's records: the shard reads the copies once it applied them (and every frame's before).
    const differ = frame.check === undefined ? null : this.#differingCopies(frame.check, (p) => fromPrimary(p) && table.owners[p]!.includes(this.#options.node));
    const all = Promise.all(work);
    all.catch(() => {}); // awaited in frame order by #applied; a failure before then is not unhandled
    differ?.catch(() => {});
    return { work: all, caughtUp: frame.done !== undefined && fromPrimary(frame.done) ? frame.done : null, differ };
  }

  /**
   * A copy check's partitions whose copy here differs from the primary's
   * digest. Only backup copies are compared (a pending copy is still being
   * filled), and only those the sender is primary of in this node's table.
   */
  async #differingCopies(check: NonNullable<ReplicateFrame['check']>, compared: (p: number) => boolean): Promise<number[]> {
    const partitions = check.p.filter((p, i) => isPartition(p) && typeof check.d[i] === 'string' && compared(p));
    const wanted = new Map(check.p.map((p, i) => [p, check.d[i]]));
    const digests = await this.#engine!.partitionDigests(partitions);
    return partitions.filter((p, i) => digests[i] !== wanted.get(p));
  }

  /** Waits for a handed-over frame to be applied (every frame before it was); the acknowledgement's fields besides the frame number. */
  async #applied(frame: ReplicateFrame, handed: HandedOver): Promise<Omit<ReplicateAck, 'ack'>> {
    if ('refused' in handed) return { refused: handed.refused };
    try {
      await handed.work;
    } catch (err) {
      return { refused: (err as Error).message };
    }
    // A check that could not be read is answered as agreeing: the next round asks again.
    const differ = (await handed.differ?.catch(() => null)) ?? [];
    // In frame order: the partition's chunks before its `done` are applied by now.
    if (handed.caughtUp !== null) {
      this.#caughtUpOn(handed.caughtUp, frame.from);
      const partition = handed.caughtUp;
      this.#engine?.copyFilled(partition).then(
        (stale) => stale > 0 && this.#log.info({ partition, stale, from: frame.from }, 'a copy filled again dropped the sessions its primary no longer holds'),
        (err: unknown) => this.#log.warn({ err: (err as Error).message, partition }, 'finishing a filled copy failed'),
      );
    }
    return differ.length === 0 ? {} : { differ };
  }

  /** Hands records to the shards of their partitions (those this node holds); the applies under way. */
  #applyRecords(records: ReplicatedRecord[], table: PartitionTable): Promise<number>[] {
    const byPartition = new Map<number, ReplicatedRecord[]>();
    for (const m of records) {
      const p = partitionOfRecord(m);
      if (roleOf(table, this.#options.node, p) === 'none') continue;
      let list = byPartition.get(p);
      if (list === undefined) byPartition.set(p, (list = []));
      list.push(m);
    }
    return [...byPartition].map(([p, list]) => this.#engine!.applyReplicated(p, list));
  }

  /** Hands a transfer chunk to the shard of its partition (when held): packed, or as records (what version 1 senders sent). */
  #applyChunk(chunk: NonNullable<ReplicateFrame['chunk']>, table: PartitionTable): Promise<unknown>[] {
    this.#caughtUp.delete(chunk.p);
    if (chunk.packed === undefined) return this.#applyRecords(chunk.recs ?? [], table);
    if (roleOf(table, this.#options.node, chunk.p) === 'none') return [];
    return [this.#engine!.applyChunk(chunk.p, chunk.packed)];
  }

  /** Hands shipped commands (auth codes, login failures) to this node's copy, in order; no other op is accepted. */
  #applyCommands(cmds: ShippedCommand[], table: PartitionTable): Promise<unknown>[] {
    const refused = cmds.find(({ command }) => !SHIPPED_OPS.has(command.op));
    if (refused !== undefined) return [Promise.reject(new EngineError('ERR_BAD_COMMAND', `op ${String((refused.command as { op: unknown }).op)} is not replicated as a command`))];
    return cmds.filter(({ p }) => roleOf(table, this.#options.node, p) !== 'none').map(({ p, command }) => this.#engine!.applyReplicatedCommand(p, command));
  }

  #caughtUpOn(partition: number, primary: string): void {
    this.#caughtUp.set(partition, primary);
    this.#progressReport.schedule();
  }

  /** Reports the partitions caught up on, under the view of the table obeyed now. */
  #reportProgress(): void {
    const view = this.#table?.viewRevision ?? 0;
    this.#reportedView = view;
    void this.#plane.reportProgress(view, [...this.#caughtUp.keys()]).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'progress report failed'));
  }

  async #formationTime(): Promise<number> {
    const ns = this.#plane.namespace;
    const now = String(this.#options.nowSeconds());
    await ns.if('formed', 'Create', '==', 0).then(ns.put('formed').value(now)).commit();
    return Number((await ns.get('formed').string()) ?? now);
  }
}

function rolesSummary(table: PartitionTable, node: string): { primary: number; copies: number } {
  let primary = 0;
  let copies = 0;
  for (let p = 0; p < table.owners.length; p++) {
    const role = roleOf(table, node, p);
    if (role === 'primary') primary++;
    else if (role === 'passive') copies++;
  }
  return { primary, copies };
}

/** Runs `run` once, `ms` after the first of any number of `schedule` calls. */
class Later {
  readonly #ms: number;
  readonly #run: () => void;
  #timer: NodeJS.Timeout | null = null;

  constructor(ms: number, run: () => void) {
    this.#ms = ms;
    this.#run = run;
  }

  schedule(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#run();
    }, this.#ms);
  }

  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Warnings that may come in bursts: at most one line per kind and interval, with how many were left out. */
class ThrottledLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { atMs: number; unlogged: number }>();

  constructor(log: Logger, intervalMs: number) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  write(kind: string, msg: string, fields: object): void {
    const now = performance.now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last.atMs < this.#intervalMs) {
      last.unlogged++;
      return;
    }
    this.#log.warn({ ...fields, othersSinceLast: last?.unlogged ?? 0 }, msg);
    this.#last.set(kind, { atMs: now, unlogged: 0 });
  }
}
