// ControlPlane: this node's membership in etcd. Keys live under
// `/<cluster-name>/`:
//
//   members/<node>    {address, started, protocol, lease, incarnation, zone?} under the node's lease
//   table             the partition table (partition-table.ts), JSON
//   progress/<node>   {view, partitions}: partitions whose transfer to <node> completed,
//                     reported under the table of member view `view`, under its lease
//   released/<node>   partitions <node> was asked to hand off and has drained, under its lease
//   suspects/<target>/<accuser>   "I cannot hear <target>" (value: the target's lease), under the accuser's lease
//
// Membership. The node grants a lease with a 2 s TTL and renews it every
// 500 ms itself (not etcd3's automatic renewal, which runs every TTL/3 and
// does not say when a renewal was sent). The member set is the keys under
// `members/`; a view is that set at an etcd revision, and every node watches
// the prefix, so every node sees the same sequence of views.
//
// Fencing. The node may serve only while its lease is provably alive: the
// deadline is the send time of the last renewal etcd confirmed, plus the TTL,
// minus a margin, on the monotonic clock. etcd deletes a member's key only
// once its lease is gone, so an old and a new primary never overlap.
//
// Incarnation. What the partition table knows a member by: the lease it first
// joined under. A member whose lease lapsed joins again under a new lease,
// and normally as a new incarnation (it holds nothing the table remembers).
// It keeps its incarnation only when its lease lapsed while etcd was out of
// its reach and the table is still the one it obeyed: the new member key is
// written in a transaction that compares the table's revision, so no table
// written meanwhile (one that gave its partitions to others) can have been
// missed. (A node evicted while etcd answered it comes back new: the
// coordinator is about to drop it. One that was itself paused keeps its
// incarnation only if no table was written meanwhile: nothing moved.) An
// etcd that expired every lease (cut off from all nodes, or paused, for
// longer than the TTL) thus costs no partition: the members served the frozen
// view meanwhile, nobody could change the table, and each comes back as the
// incarnation the table names. A coordinator's table that drops members is
// written only while their keys are still absent, so a member that came back
// meanwhile is never dropped on a view that no longer holds.
//
// Coordinator. The member whose key has the lowest create revision: etcd's
// election recipe, applied to the member keys themselves, so every node
// agrees on it from the view alone; while a majority accuses that member, the
// next oldest acts instead (coordinator.ts, actingCoordinator), so a failed
// coordinator is evicted without waiting for its lease to lapse. It writes
// each new view's table in a transaction that checks the table did not
// change meanwhile.

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ExponentialBackoff, noop } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue, type Lease, type Namespace, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { actingCoordinator } from './coordinator.js';
import type { PartitionTable } from './partition-table.js';
import { channelCredentials, type ClusterCertificates } from './cluster-certificates.js';
import { etcdTlsHint } from './transport-security.js';
import { CLUSTER_PROTOCOL_VERSION } from './wire.js';

/** Lease TTL: etcd's minimum with its default election timing. */
export const LEASE_TTL_S = 2;
/** How often the lease is renewed. */
export const LEASE_RENEW_MS = 500;
/** Served time given up at the end of a lease, for clock rate differences and in-flight answers. */
export const LEASE_MARGIN_MS = 300;
/** A renewal that takes longer than this counts as failed. */
const ETCD_CALL_DEADLINE_MS = 1_000;
/**
 * A renewal unanswered this long already means etcd is not answering, for
 * what this node tells its peers (the frozen-view confirmations): they need
 * it before their own lease deadlines pass, which can be 1.2 s after etcd
 * went silent, too soon for a renewal sent up to 0.5 s later to fail at its
 * 1 s deadline first.
 */
const ETCD_SILENT_MS = 300;
/** The least time between two renewals asked for out of turn. */
const RENEW_SOON_MS = 100;

export interface MemberInfo {
  node: string;
  /** host:port peers dial. */
  address: string;
  started: number;
  protocol: number;
  /** The member's lease id (decimal string), for eviction. */
  lease: string;
  /** What the partition table knows the member by (see "Incarnation" above); the lease id of a member that never rejoined. */
  incarnation: string;
  /**
   * Whether the member wrote its incarnation in its key (and keeps it across
   * a lapsed lease); an older version is known by its lease alone, and, as
   * coordinator, would take a kept incarnation for a new member.
   */
  keepsIncarnation: boolean;
  /** The etcd create revision of the member key: lower is older. */
  createRevision: number;
  /** The etcd revision of the member key's last write: a view at or past it holds the key as it is. */
  modRevision: number;
  /** Leaving gracefully: its primaries are being handed to their other owners. */
  draining?: boolean;
  /** The member's zone (`--zone`): a partition's copies go to different zones while there are enough. */
  zone?: string;
}

export interface View {
  revision: number;
  members: MemberInfo[];
}

export interface ControlPlaneOptions {
  hosts: string[];
  /** TLS to etcd (the hosts are https:// URLs): its certificates, renewed without a restart (cluster-certificates.ts); null for plaintext. */
  tls: ClusterCertificates | null;
  cluster: string;
  node: string;
  address: string;
  /** This node's zone (`--zone`), published in its member key. */
  zone?: string | null;
  log: Logger;
  /**
   * Whether an evicted node may join again now. A node cut off from the
   * others (but not from etcd) would otherwise rejoin, be evicted again and
   * churn the view for as long as the cut lasts.
   */
  mayRejoin?(): boolean;
  /**
   * Whether a node whose lease lapsed may join again as the incarnation it
   * was: the etcd revision of the table it obeys as that incarnation, whose
   * copies it still holds (null: it may not). The join keeps the incarnation
   * only if that table is still etcd's.
   */
  keepIncarnation?(): number | null;
}

const MEMBERS = 'members/';
const TABLE = 'table';
const PROGRESS = 'progress/';
const RELEASED = 'released/';
const SUSPECTS = 'suspects/';

export class ControlPlane extends EventEmitter {
  readonly #options: ControlPlaneOptions;
  readonly #client: Etcd3;
  readonly #ns: Namespace;
  readonly #members = new Map<string, MemberInfo>();
  readonly #progress = new Map<string, { view: number; partitions: ReadonlySet<number> }>();
  readonly #released = new Map<string, Set<number>>();
  /** Per accused member: accuser → the lease it accused, and since when (performance.now()). */
  readonly #suspects = new Map<string, Map<string, { lease: string; sinceMs: number }>>();
  readonly #watchers: Watcher[] = [];
  #lease: Lease | null = null;
  #leaseId = '';
  #incarnation = '';
  #deadline = 0;
  #etcdOk = false;
  /** Whether the latest renewal failed (timed out, or etcd unreachable): an outage, not just a slow answer. */
  #renewalFailed = false;
  #renewal: NodeJS.Timeout | null = null;
  #viewRevision = 0;
  #table: PartitionTable | null = null;
  #tableModRevision = 0;
  #closed = false;
  #rejoining = false;
  /** The etcd revision of this node's latest member key. */
  #joinRevision = 0;
  #evicted = false;
  /** Whether etcd was out of reach when this node found its lease gone (only then may it keep its incarnation). */
  #lapsedInOutage = false;
  #renewedSoonMs = 0;
  /** When etcd last stopped answering. */
  #etcdLostMs = 0;

  constructor(options: ControlPlaneOptions) {
    super();
    this.#options = options;
    this.#client = new Etcd3({
      hosts: options.hosts,
      ...(options.tls !== null ? { credentials: options.tls.etcdCredentials } : {}),
      dialTimeout: ETCD_CALL_DEADLINE_MS,
      // Redial etcd within 300 ms once it is back (grpc-js would back off up to
      // 120 s): a node whose peers reach etcd before it stops serving until it does.
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 300 },
      // Fail fast and retry on our own schedule: the default circuit breaker
      // would refuse every call for 5 s after three failures.
      faultHandling: { host: () => noop, global: noop, watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }).next() },
    });
    if (options.tls !== null) renewableCredentials(this.#client, options.tls);
    this.#ns = this.#client.namespace(`/${options.cluster}/`);
  }

  /** The etcd namespace of this cluster (configuration lives under `config/`). */
  get namespace(): Namespace {
    return this.#ns;
  }

  /**
   * One read from etcd, to learn early whether this node can reach it at
   * all: rejects with one line naming the endpoints, whether they were dialled
   * over TLS, gRPC's reason and, for a failed TLS handshake, what it most
   * likely means (a refused client certificate, or a server certificate that
   * failed the check).
   */
  async reach(): Promise<void> {
    try {
      await this.#ns.get(TABLE).exec();
    } catch (err) {
      // gRPC's message may span lines (OpenSSL's) and ends in an empty "Resolution note:".
      const reason = String((err as Error).message ?? err).replace(/\s+/g, ' ').replace(/ ?Resolution note: ?$/, '').trim();
      const hint = this.#options.tls === null ? null : etcdTlsHint(reason);
      const over = this.#options.tls === null ? 'plaintext' : 'TLS';
      throw new Error(`cannot reach etcd at ${this.#options.hosts.join(', ')} (${over}): ${hint === null ? '' : `${hint}; `}${reason}`);
    }
  }

  /**
   * Joins: lease, member key, then the current members, table, progress and
   * suspicions, watched from there on. `restart`: the incarnation this node
   * was before its process restarted and the revision of the table it obeyed
   * then; it joins as that incarnation if that table is still etcd's (and no
   * member runs a version that knows members by their lease). Resolves
   * whether it did.
   */
  async start(restart: { incarnation: string; tableRevision: number } | null = null): Promise<boolean> {
    let keepAt: number | null = null;
    if (restart !== null && (await this.#everyMemberKeepsIncarnation())) {
      this.#incarnation = restart.incarnation;
      keepAt = restart.tableRevision;
    }
    const kept = await this.#join(keepAt);
    const revision = await this.#load();
    await this.#watch(revision + 1);
    this.#renewal = setInterval(() => void this.#renew(), LEASE_RENEW_MS);
    return kept;
  }

  /** The etcd revision the table was last written at, read now (0: no table yet). Before start(), to know whether a restart can keep its incarnation. */
  async readTableRevision(): Promise<number> {
    const { kvs } = await this.#ns.get(TABLE).exec();
    return kvs.length === 0 ? 0 : Number(kvs[0]!.mod_revision);
  }

  /** Whether every member key in etcd carries an incarnation (an older version's would take a kept one for a new member). */
  async #everyMemberKeepsIncarnation(): Promise<boolean> {
    const values = await this.#ns.getAll().prefix(MEMBERS).strings();
    return Object.values(values).every((value) => {
      try {
        return typeof (JSON.parse(value) as { incarnation?: unknown }).incarnation === 'string';
      } catch {
        return false;
      }
    });
  }

  /** This node's current lease. */
  get leaseId(): string {
    return this.#leaseId;
  }

  /** What the partition table knows this node by (see "Incarnation" above). */
  get incarnation(): string {
    return this.#incarnation;
  }

  /** Whether this node may serve: its lease is provably alive. */
  get leaseValid(): boolean {
    return performance.now() < this.#deadline;
  }

  /** Whether etcd answers this node's renewals (false too while one has been unanswered for ETCD_SILENT_MS). */
  get etcdReachable(): boolean {
    return this.#etcdOk;
  }

  get view(): View {
    return { revision: this.#viewRevision, members: [...this.#members.values()] };
  }

  get table(): PartitionTable | null {
    return this.#table;
  }

  /** The etcd revision at which `table` was written (also passed with each 'table' event). */
  get tableRevision(): number {
    return this.#tableModRevision;
  }

  member(node: string): MemberInfo | undefined {
    return this.#members.get(node);
  }

  /** The oldest member (lowest create revision) coordinates, unless a majority accuses it (actingCoordinator). */
  get coordinator(): string | null {
    return actingCoordinator(this.joinOrder, this.suspects);
  }

  /** The members from oldest to newest (create revision of their keys). */
  get joinOrder(): string[] {
    return [...this.#members.values()].sort((a, b) => a.createRevision - b.createRevision).map((m) => m.node);
  }

  get isCoordinator(): boolean {
    return this.coordinator === this.#options.node;
  }

  /**
   * The caught-up reports made under view `view`. A pending assignment is
   * made only by a view's first table, so a report of an earlier view is
   * stale: its partitions may be pending again, and not caught up at all.
   */
  progressIn(view: number): ReadonlyMap<string, ReadonlySet<number>> {
    const out = new Map<string, ReadonlySet<number>>();
    for (const [node, report] of this.#progress) if (report.view === view) out.set(node, report.partitions);
    return out;
  }

  /** Per member: the partitions it was asked to hand off and has drained. */
  get released(): ReadonlyMap<string, ReadonlySet<number>> {
    return this.#released;
  }

  /**
   * Accusers per suspected member, counting only accusations of its current
   * lease: a member that restarted (or joined again) starts with a clean
   * record, whatever was said about it before.
   */
  get suspects(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.standingSuspects(0);
  }

  /** The accusations (as `suspects`) this node has seen stand for at least `ms`. */
  standingSuspects(ms: number): ReadonlyMap<string, ReadonlySet<string>> {
    const out = new Map<string, Set<string>>();
    const before = performance.now() - ms;
    for (const [target, accusers] of this.#suspects) {
      const lease = this.#members.get(target)?.lease;
      const current = [...accusers].filter(([, a]) => a.lease === lease && a.sinceMs <= before).map(([accuser]) => accuser);
      if (current.length > 0) out.set(target, new Set(current));
    }
    return out;
  }

  /**
   * Writes the table unless another write came first (the coordinator moved)
   * or one of the `absent` members (those the table drops for having left the
   * view) has a member key again: true when written.
   */
  async writeTable(table: PartitionTable, absent: readonly string[] = []): Promise<boolean> {
    let txn = this.#ns.if(TABLE, 'Mod', '==', this.#tableModRevision);
    for (const node of absent) txn = txn.and(`${MEMBERS}${node}`, 'Create', '==', 0);
    const result = await txn.then(this.#ns.put(TABLE).value(JSON.stringify(table))).commit();
    return result.succeeded;
  }

  /**
   * Publishes the partitions this node has caught up on (replaces the
   * previous report), made under the table of member view `view`.
   */
  async reportProgress(view: number, partitions: readonly number[]): Promise<void> {
    await this.#leased().put(`${PROGRESS}${this.#options.node}`).value(JSON.stringify({ view, partitions }));
  }

  /** Publishes the partitions this node has drained for their handoff (replaces the previous report). */
  async reportReleased(entries: readonly number[]): Promise<void> {
    await this.#leased().put(`${RELEASED}${this.#options.node}`).value(JSON.stringify(entries));
  }

  /** Marks this member as leaving: the coordinator hands its primaries to their other owners. */
  async drain(): Promise<void> {
    await this.#leased().put(`${MEMBERS}${this.#options.node}`).value(this.#memberValue(true));
  }

  #memberValue(draining: boolean, incarnation = this.#incarnation): string {
    const zone = this.#options.zone ?? undefined;
    return JSON.stringify({ address: this.#options.address, started: Date.now(), protocol: CLUSTER_PROTOCOL_VERSION, lease: this.#leaseId, incarnation, ...(zone !== undefined ? { zone } : {}), ...(draining ? { draining } : {}) });
  }

  /** Raises (against its current lease) or withdraws this node's suspicion of `target`. */
  async accuse(target: string, suspected: boolean): Promise<void> {
    const key = `${SUSPECTS}${target}/${this.#options.node}`;
    const lease = this.#members.get(target)?.lease;
    if (suspected && lease !== undefined) await this.#leased().put(key).value(lease);
    else await this.#ns.delete().key(key);
  }

  /** Ends a member's lease now (its key and suspicions go with it), logging why. */
  async evict(node: string, why = 'evicting an unreachable member'): Promise<void> {
    const member = this.#members.get(node);
    if (member === undefined) return;
    this.#options.log.warn({ peer: node }, why);
    try {
      await this.#client.leaseClient.leaseRevoke({ ID: member.lease });
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) throw err;
    }
  }

  /** Leaves: the lease is revoked so the others see the departure at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#renewal !== null) clearInterval(this.#renewal);
    // The lease first (the others take over at once); a stuck watch cancel never holds the exit up.
    await this.#lease?.revoke({ deadline: Date.now() + ETCD_CALL_DEADLINE_MS }).catch(() => {});
    await Promise.race([Promise.all(this.#watchers.map((w) => w.cancel().catch(() => {}))), new Promise((resolve) => setTimeout(resolve, ETCD_CALL_DEADLINE_MS).unref())]);
    this.#client.close();
  }

  #leased(): Lease {
    if (this.#lease === null) throw new Error('no lease yet');
    return this.#lease;
  }

  /**
   * Takes a new lease and writes the member key under it: as the incarnation
   * this node was when etcd's table is still the one written at revision
   * `keepAt`, else as a new one. Resolves whether it kept its incarnation.
   */
  async #join(keepAt: number | null = null): Promise<boolean> {
    const lease = this.#ns.lease(LEASE_TTL_S, { autoKeepAlive: false });
    const sent = performance.now();
    const leaseId = await lease.grant();
    this.#leaseId = leaseId;
    this.#lease = lease;
    const key = `${MEMBERS}${this.#options.node}`;
    const put = (incarnation: string) => this.#ns.put(key).value(this.#memberValue(false, incarnation)).lease(leaseId);
    let kept = false;
    if (keepAt !== null && this.#incarnation !== '') {
      const txn = await this.#ns.if(TABLE, 'Mod', '==', keepAt).then(put(this.#incarnation)).else(put(leaseId)).commit();
      kept = txn.succeeded;
      this.#joinRevision = Number(txn.header.revision);
    } else {
      this.#joinRevision = Number((await put(leaseId)).header.revision);
    }
    if (!kept) this.#incarnation = leaseId;
    this.#deadline = sent + LEASE_TTL_S * 1000 - LEASE_MARGIN_MS;
    this.#etcdOk = true;
    this.#renewalFailed = false;
    return kept;
  }

  /** Renews the lease; a lease etcd no longer knows (expired or evicted) means joining again (see "Incarnation" above). */
  async #renew(): Promise<void> {
    const lease = this.#lease;
    if (this.#closed || this.#rejoining || lease === null) return;
    const sent = performance.now();
    const silent = setTimeout(() => {
      if (lease === this.#lease && !this.#rejoining) this.#setEtcd(false);
    }, ETCD_SILENT_MS);
    try {
      const res = await lease.keepaliveOnce({ deadline: Date.now() + ETCD_CALL_DEADLINE_MS });
      if (lease !== this.#lease) return; // answered for a lease already replaced by a rejoin
      this.#deadline = sent + Number(res.TTL) * 1000 - LEASE_MARGIN_MS;
      this.#renewalFailed = false;
      this.#setEtcd(true);
    } catch (err) {
      // Renewals overlap (one every 500 ms, each may wait 1 s), so after a
      // stall several fail together: only those of the current lease count.
      if (lease !== this.#lease || this.#rejoining) return;
      if (err instanceof EtcdLeaseInvalidError) {
        const inOutage = this.#renewalFailed;
        this.#deadline = 0;
        this.#setEtcd(true);
        await this.#rejoin(inOutage);
        return;
      }
      this.#renewalFailed = true;
      this.#setEtcd(false);
    } finally {
      clearTimeout(silent);
    }
  }

  /** Renews now (a peer reaches etcd again while this node does not): at most one such renewal per RENEW_SOON_MS. */
  renewSoon(): void {
    const now = performance.now();
    if (now - this.#renewedSoonMs < RENEW_SOON_MS) return;
    this.#renewedSoonMs = now;
    void this.#renew();
  }

  /** Records whether etcd answers; emits 'etcd' (reachable, ms since it stopped answering) on each change. */
  #setEtcd(ok: boolean): void {
    if (ok === this.#etcdOk) return;
    this.#etcdOk = ok;
    const now = performance.now();
    if (!ok) this.#etcdLostMs = now;
    this.emit('etcd', ok, ok ? Math.round(now - this.#etcdLostMs) : 0);
  }

  /**
   * Joins again under a new lease; one join at a time, or two leases would
   * race for the member key. Emits 'rejoined' (whether the incarnation was
   * kept, whether the lease lapsed in an etcd outage).
   */
  async #rejoin(inOutage: boolean): Promise<void> {
    if (this.#rejoining) return;
    if (!this.#evicted) {
      this.#evicted = true;
      this.#lapsedInOutage = inOutage;
      this.#options.log.warn('cluster lease lost (expired or evicted): joining again once the others can be heard');
      this.emit('evicted');
    }
    if (this.#options.mayRejoin?.() === false) return; // asked again at the next renewal round
    this.#rejoining = true;
    try {
      const before = this.#incarnation;
      const kept = await this.#join(this.#lapsedInOutage ? (this.#options.keepIncarnation?.() ?? null) : null);
      this.#evicted = false;
      this.#options.log.warn({ kept, incarnation: this.#incarnation, before }, kept ? 'joined again as the same incarnation: the partition table did not change meanwhile' : 'joined again as a new incarnation');
      this.emit('rejoined', kept, this.#lapsedInOutage);
    } catch (err) {
      this.#options.log.error({ err }, 'joining the cluster again failed; retrying');
    } finally {
      this.#rejoining = false;
    }
  }

  async #load(): Promise<number> {
    const members = await this.#ns.getAll().prefix(MEMBERS).exec();
    for (const kv of members.kvs) this.#putMember(kv);
    this.#viewRevision = Number(members.header.revision);
    const table = await this.#ns.get(TABLE).exec();
    if (table.kvs[0] !== undefined) this.#putTable(table.kvs[0]);
    const progress = await this.#ns.getAll().prefix(PROGRESS).exec();
    for (const kv of progress.kvs) this.#putProgress(kv);
    const released = await this.#ns.getAll().prefix(RELEASED).exec();
    for (const kv of released.kvs) this.#putReleased(kv);
    const suspects = await this.#ns.getAll().prefix(SUSPECTS).exec();
    for (const kv of suspects.kvs) this.#putSuspect(kv, true);
    this.emit('view', this.view);
    if (this.#table !== null) this.emit('table', this.#table, this.#tableModRevision);
    return Number(members.header.revision);
  }

  async #watch(fromRevision: number): Promise<void> {
    const from = String(fromRevision);
    const members = await this.#ns.watch().prefix(MEMBERS).startRevision(from).create();
    members.on('data', (res) => {
      for (const event of res.events) {
        if (event.type === 'Put') this.#putMember(event.kv);
        else this.#removeMember(event.kv.key.toString().slice(MEMBERS.length), Number(event.kv.mod_revision));
      }
      this.#viewRevision = Number(res.header.revision);
      this.emit('view', this.view);
      // The watch hears etcd again before a renewal does: renew now. (Back from an outage that
      // expired every lease, the view above lacks the members whose keys etcd deleted, and
      // the frozen view must not count as confirmed by the members left in it.)
      if (!this.#etcdOk) this.renewSoon();
    });
    const table = await this.#ns.watch().key(TABLE).startRevision(from).create();
    table.on('put', (kv) => {
      this.#putTable(kv);
      this.emit('table', this.#table, this.#tableModRevision);
    });
    const progress = await this.#ns.watch().prefix(PROGRESS).startRevision(from).create();
    progress.on('put', (kv) => this.#putProgress(kv));
    progress.on('delete', (kv) => this.#progress.delete(kv.key.toString().slice(PROGRESS.length)));
    progress.on('data', () => this.emit('progress'));
    const released = await this.#ns.watch().prefix(RELEASED).startRevision(from).create();
    released.on('put', (kv) => this.#putReleased(kv));
    released.on('delete', (kv) => this.#released.delete(kv.key.toString().slice(RELEASED.length)));
    released.on('data', () => this.emit('released'));
    const suspects = await this.#ns.watch().prefix(SUSPECTS).startRevision(from).create();
    suspects.on('put', (kv) => this.#putSuspect(kv, true));
    suspects.on('delete', (kv) => this.#putSuspect(kv, false));
    suspects.on('data', () => this.emit('suspects'));
    for (const w of [members, table, progress, released, suspects]) {
      w.on('error', (err) => this.#options.log.warn({ err: err.message }, 'etcd watch error; reconnecting'));
      this.#watchers.push(w);
    }
  }

  #putMember(kv: IKeyValue): void {
    const node = kv.key.toString().slice(MEMBERS.length);
    const value = JSON.parse(kv.value.toString()) as Omit<MemberInfo, 'node' | 'createRevision' | 'modRevision' | 'incarnation' | 'keepsIncarnation'> & { incarnation?: string };
    // A member of an older version, which writes no incarnation, is known by its lease.
    this.#members.set(node, { ...value, incarnation: value.incarnation ?? value.lease, keepsIncarnation: value.incarnation !== undefined, node, createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) });
  }

  #removeMember(node: string, revision: number): void {
    this.#members.delete(node);
    // Evicted (its lease revoked): stop serving now, not at the next renewal, since the
    // others promote this node's backups as soon as they see the key gone. (A deletion older
    // than this node's latest join is its previous lease's.)
    if (node === this.#options.node && revision > this.#joinRevision) this.#deadline = 0;
  }

  #putTable(kv: IKeyValue): void {
    this.#table = JSON.parse(kv.value.toString()) as PartitionTable;
    this.#tableModRevision = Number(kv.mod_revision);
  }

  #putProgress(kv: IKeyValue): void {
    const report = JSON.parse(kv.value.toString()) as { view: number; partitions: number[] };
    this.#progress.set(kv.key.toString().slice(PROGRESS.length), { view: report.view, partitions: new Set(report.partitions) });
  }

  #putReleased(kv: IKeyValue): void {
    this.#released.set(kv.key.toString().slice(RELEASED.length), new Set(JSON.parse(kv.value.toString()) as number[]));
  }

  #putSuspect(kv: IKeyValue, on: boolean): void {
    const [target, accuser] = kv.key.toString().slice(SUSPECTS.length).split('/') as [string, string];
    let accusers = this.#suspects.get(target);
    if (accusers === undefined) this.#suspects.set(target, (accusers = new Map()));
    const lease = kv.value.toString();
    if (on && accusers.get(accuser)?.lease !== lease) accusers.set(accuser, { lease, sinceMs: performance.now() });
    else accusers.delete(accuser);
    if (accusers.size === 0) this.#suspects.delete(target);
  }
}

/**
 * etcd3 builds its channels' credentials once, from the bytes of the files;
 * its hosts are given credentials that follow the renewable certificates
 * instead, before any channel exists (a host makes its service clients on
 * first use), so the next connection to etcd after a renewal presents the
 * new client certificate and trusts the new CA. This reaches into etcd3's
 * connection pool (`pool.hosts[].channelCredentials`, etcd3 1.1); a version
 * that moved it stops the node here rather than leave renewals unused
 * (test/cluster/transport-security.test.ts renews an etcd client certificate
 * under a running control plane).
 */
function renewableCredentials(client: Etcd3, certificates: ClusterCertificates): void {
  const hosts = (client as unknown as { pool?: { hosts?: unknown } }).pool?.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || !hosts.every((h) => h !== null && typeof h === 'object' && 'channelCredentials' in h)) {
    throw new Error('this etcd3 version keeps no channel credentials per host: etcd certificates could not be renewed without a restart');
  }
  const credentials = channelCredentials(certificates);
  for (const host of hosts as { channelCredentials: unknown }[]) host.channelCredentials = credentials;
}
