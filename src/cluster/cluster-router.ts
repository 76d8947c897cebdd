// ClusterRouter: the PartitionRouter of a cluster member. A command for a
// partition this node is primary of runs on the local shard, and its reply
// is released only once the partition's backups applied the records it
// produced (replicator.ts). A command for another node's partition is
// forwarded to that primary over gRPC (never a redirect): the client's
// request is answered by whichever node it reached. A scatter runs on every
// member, each answering for the partitions it is primary of.
//
// A stale sender (its table says the peer owns a partition the peer no
// longer owns) gets ERR_WRONG_OWNER and retries as soon as its own table
// changes, within the request's deadline. A node without a provable lease
// answers nothing (ERR_NOT_SERVING).
//
// A write that reached its primary and got no answer is ambiguous (it may
// have run) and is not retried. A node that is briefly not serving (its
// lease renewal is under way when etcd comes back after an outage and a peer
// reached it first) holds a request up to NOT_SERVING_WAIT_MS before refusing
// it. A read (READ_OPS) changes nothing: each
// attempt waits at most READ_ATTEMPT_MS, and one that got no answer is tried
// again, so a read whose primary hung is answered by the new primary once
// the view dropped the hung one, within the route deadline.

import { PARTITION_COUNT } from '../constants.js';
import { EngineError, hasCode } from '../errors.js';
import type { Command, LoginFailureRecordResult } from '../protocol/actor-messages.js';
import { OP } from '../protocol/actor-ops.js';
import { shardOfPartition } from '../protocol/partition.js';
import { bruteForceSettings, recordExpiresAtMs } from '../session/brute-force.js';
import { toWireError, type WireError } from '../protocol/wire-error.js';
import type { ActorPool } from '../host/actor-pool.js';
import type { PartitionRouter, ResultFor } from '../host/partition-router.js';
import type { PartitionTable } from './partition-table.js';
import type { Peer } from './peer.js';
import type { Replicator } from './replicator.js';
import type { ShippedCommand } from './wire.js';

/**
 * How long a routed command may take, retries included: long enough to wait
 * out a failover (a hung primary is evicted within the 2 s lease TTL, and the
 * new table follows), short enough that a client is answered.
 */
export const ROUTE_DEADLINE_MS = 4_000;
/** How long one attempt of a read may wait for the primary's answer before it is tried again. */
export const READ_ATTEMPT_MS = 1_000;
/** Commands that only read a partition: safe to try again whatever happened to an attempt. */
const READ_OPS: ReadonlySet<number> = new Set([OP.sessionGet, OP.offlineGet, OP.chainGet, OP.loginFailureGet]);
/** Pause before retrying a command whose owner moved, when no new table arrived first. */
const WRONG_OWNER_RETRY_MS = 25;
/**
 * How long a request waits for this node to serve again before it is refused
 * (ERR_NOT_SERVING): a renewal in flight takes an etcd round trip; a fenced
 * node is refused after this.
 */
export const NOT_SERVING_WAIT_MS = 1_000;

export interface ClusterRouting {
  readonly self: string;
  table(): PartitionTable | null;
  /** Whether this node may serve now (lease provably alive, joined). */
  serving(): boolean;
  peer(node: string): Peer | undefined;
  /** Resolves when the next table is obeyed, or after `ms`. */
  tableChange(ms: number): Promise<void>;
  nowSeconds(): number;
  /** Called per forwarded request (seconds to its answer, whether it succeeded) and per owner that had moved. */
  forwarded(peer: string, seconds: number, ok: boolean): void;
  wrongOwner(): void;
  /** A forwarded request that took SLOW_FORWARD_MS or more (logged for the operator). */
  slowForward?(slow: { peer: string; kind: string; partition?: number; op?: number; ms: number; error: string | null }): void;
}

/** A forwarded request answered (or failed) this late is reported (slowForward). */
export const SLOW_FORWARD_MS = 1_000;

/** What a forwarded request was, for a log line. */
function describe(request: Parameters<Peer['forward']>[0]): { kind: string; partition?: number; op?: number } {
  if (request.kind === 'ask') return { kind: 'ask', partition: request.partition, op: request.command.op };
  if (request.kind === 'scatter') return { kind: 'scatter', op: request.command.op };
  return { kind: request.kind };
}

type ManyAnswer = unknown | { $error: WireError };

export class ClusterRouter implements PartitionRouter {
  readonly #pool: ActorPool;
  readonly #routing: ClusterRouting;
  readonly #replicator: Replicator;
  /** Commands under way per partition (askLocal), and who waits for a partition to have none. */
  readonly #inflight = new Uint32Array(PARTITION_COUNT);
  readonly #drainWaiters = new Map<number, (() => void)[]>();

  constructor(pool: ActorPool, routing: ClusterRouting, replicator: Replicator) {
    this.#pool = pool;
    this.#routing = routing;
    this.#replicator = replicator;
  }

  async ask<C extends Command>(partition: number, command: C): Promise<ResultFor<C>> {
    const deadline = performance.now() + ROUTE_DEADLINE_MS;
    const read = READ_OPS.has(command.op);
    if (!this.#routing.serving()) await this.#servingAgain(deadline);
    for (;;) {
      const owner = this.#primaryOf(partition);
      try {
        if (owner === this.#routing.self) return await this.askLocal(partition, command);
        const left = deadline - performance.now();
        const attempt = read ? Math.min(left, READ_ATTEMPT_MS) : left;
        return (await this.#forward(owner, { kind: 'ask', partition, command, budgetMs: attempt }, attempt)) as ResultFor<C>;
      } catch (err) {
        if (!(await this.#retryable(err, deadline, read))) throw err;
      }
    }
  }

  async askMany<C extends Command>(partitions: readonly number[], commands: readonly C[]): Promise<(ResultFor<C> | EngineError)[]> {
    if (!this.#routing.serving()) await this.#servingAgain(performance.now() + ROUTE_DEADLINE_MS);
    const out = new Array<ResultFor<C> | EngineError>(commands.length);
    const byOwner = new Map<string, { partitions: number[]; commands: C[]; positions: number[] }>();
    for (let i = 0; i < commands.length; i++) {
      const owner = this.#primaryOf(partitions[i]!);
      let group = byOwner.get(owner);
      if (group === undefined) byOwner.set(owner, (group = { partitions: [], commands: [], positions: [] }));
      group.partitions.push(partitions[i]!);
      group.commands.push(commands[i]!);
      group.positions.push(i);
    }
    await Promise.all(
      [...byOwner].map(async ([owner, group]) => {
        let answers: (ResultFor<C> | EngineError)[];
        if (owner === this.#routing.self) answers = await this.askManyLocal(group.partitions, group.commands);
        else {
          const request = { kind: 'many' as const, partitions: group.partitions, commands: group.commands, budgetMs: ROUTE_DEADLINE_MS };
          const remote = (await this.#forward(owner, request, ROUTE_DEADLINE_MS)) as ManyAnswer[];
          answers = remote.map((a) => (isWireFailure(a) ? new EngineError(a.$error.code as never, a.$error.message) : (a as ResultFor<C>)));
        }
        answers.forEach((answer, i) => (out[group.positions[i]!] = answer));
      }),
    );
    return out;
  }

  async scatter<C extends Command>(command: C): Promise<ResultFor<C>[]> {
    if (!this.#routing.serving()) await this.#servingAgain(performance.now() + ROUTE_DEADLINE_MS);
    this.#requireServing();
    const table = this.#routing.table()!;
    const parts = await Promise.all(
      table.members.map((node) =>
        node === this.#routing.self
          ? this.scatterLocal(command)
          : (this.#forward(node, { kind: 'scatter', command, budgetMs: ROUTE_DEADLINE_MS }, ROUTE_DEADLINE_MS) as Promise<ResultFor<C>[]>),
      ),
    );
    return parts.flat();
  }

  // --- the owner's side (also what forwarded requests run) ---------------------

  /**
   * Runs a command for a partition this node is primary of; answers once its
   * records are replicated. A partition being handed off is refused (its
   * senders retry on the next table, which names the new primary).
   */
  async askLocal<C extends Command>(partition: number, command: C): Promise<ResultFor<C>> {
    this.#requireServing();
    if (this.#primaryOf(partition) !== this.#routing.self) throw new EngineError('ERR_WRONG_OWNER', `partition ${partition} is not primary here`);
    if (this.#routing.table()!.handoff?.[partition] !== undefined) throw new EngineError('ERR_WRONG_OWNER', `partition ${partition} is being handed off`);
    this.#inflight[partition]!++;
    try {
      const stamped = this.#restamp(command);
      const result = await this.#pool.ask(shardOfPartition(partition, this.#pool.size), stamped);
      // Auth codes and login failures live beside the table, not in it: their changes travel as commands.
      if (changedBeside(stamped, result)) this.#replicator.shipCommand(partition, shippedFor(stamped, result), stamped as ShippedCommand['command']);
      await this.#replicator.whenReplicated(partition);
      return result;
    } finally {
      if (--this.#inflight[partition]! === 0) this.#wakeDrained(partition);
    }
  }

  /**
   * Resolves once no command for `partition` is under way here, its records
   * are replicated and its transfers complete (a handoff: called once the
   * table refusing new commands for it is obeyed).
   */
  async drained(partition: number): Promise<void> {
    if (this.#inflight[partition]! > 0) await new Promise<void>((resolve) => this.#drainWaiters.set(partition, [...(this.#drainWaiters.get(partition) ?? []), resolve]));
    await this.#replicator.whenHandedOff(partition).catch(() => {});
  }

  #wakeDrained(partition: number): void {
    const waiters = this.#drainWaiters.get(partition);
    if (waiters === undefined) return;
    this.#drainWaiters.delete(partition);
    for (const wake of waiters) wake();
  }

  async askManyLocal<C extends Command>(partitions: readonly number[], commands: readonly C[]): Promise<(ResultFor<C> | EngineError)[]> {
    return Promise.all(
      commands.map((command, i) => this.askLocal(partitions[i]!, command).catch((err: unknown) => (err instanceof EngineError ? err : new EngineError('ERR_COMMAND_FAILED', String(err))))),
    );
  }

  /** Runs a command on every local shard (each answers for its primary partitions). */
  async scatterLocal<C extends Command>(command: C): Promise<ResultFor<C>[]> {
    this.#requireServing();
    const answers = await this.#pool.broadcast(this.#restamp(command));
    await this.#replicator.whenAllReplicated();
    return answers;
  }

  /** A forwarded 'many' answer: failures as data. */
  static manyToWire(answers: readonly unknown[]): ManyAnswer[] {
    return answers.map((a) => (a instanceof EngineError ? { $error: toWireError(a) } : a));
  }

  // ---------------------------------------------------------------------------

  #primaryOf(partition: number): string {
    this.#requireServing();
    const owner = this.#routing.table()!.owners[partition]?.[0];
    if (owner === undefined) throw new EngineError('ERR_INVALID_ARGUMENT', `no partition ${partition}`);
    return owner;
  }

  async #forward(node: string, request: Parameters<Peer['forward']>[0], deadlineMs: number): Promise<unknown> {
    const started = performance.now();
    let failure: unknown = null;
    try {
      return await this.#peerOf(node).forward(request, deadlineMs);
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.#routing.forwarded(node, seconds, failure === null);
      if (seconds * 1000 >= SLOW_FORWARD_MS) this.#routing.slowForward?.({ peer: node, ...describe(request), ms: Math.round(seconds * 1000), error: failure === null ? null : String((failure as Error).message ?? failure) });
    }
  }

  #peerOf(node: string): Peer {
    const peer = this.#routing.peer(node);
    if (peer === undefined) throw new EngineError('ERR_PEER_UNAVAILABLE', `no connection to ${node}`, { delivered: false });
    return peer;
  }

  /** Waits (at most NOT_SERVING_WAIT_MS, and not past `deadline`) for this node to serve; the caller then checks. */
  async #servingAgain(deadline: number): Promise<void> {
    const until = Math.min(deadline, performance.now() + NOT_SERVING_WAIT_MS);
    while (!this.#routing.serving() && performance.now() < until) await this.#routing.tableChange(WRONG_OWNER_RETRY_MS);
  }

  #requireServing(): void {
    if (!this.#routing.serving() || this.#routing.table() === null) throw new EngineError('ERR_NOT_SERVING');
  }

  /** The owner's clock decides `now`. */
  #restamp<C extends Command>(command: C): C {
    return 'now' in command ? { ...command, now: this.#routing.nowSeconds() } : command;
  }

  /** Whether to try again: the owner moved or could not be reached, and the deadline allows it. */
  async #retryable(err: unknown, deadline: number, read = false): Promise<boolean> {
    const moved = hasCode(err, 'ERR_WRONG_OWNER') || hasCode(err, 'ERR_NOT_SERVING');
    // A write is retried only when it provably never reached the owner; a read whenever it got no answer.
    const unreachable =
      hasCode(err, 'ERR_PEER_UNAVAILABLE') &&
      (read || ((err as EngineError).detail as { delivered?: boolean } | undefined)?.delivered === false);
    if (!(moved || unreachable)) return false;
    if (moved) this.#routing.wrongOwner();
    const left = deadline - performance.now();
    if (left <= WRONG_OWNER_RETRY_MS) return false;
    await this.#routing.tableChange(Math.min(left - WRONG_OWNER_RETRY_MS, moved ? WRONG_OWNER_RETRY_MS * 4 : 250));
    return this.#routing.serving();
  }
}

/** Whether a command changed state kept beside the session table (so the backups run it too). */
function changedBeside(command: Command, result: unknown): boolean {
  switch (command.op) {
    case OP.codePut:
      return result === true;
    case OP.codeTake:
      return result !== null;
    case OP.loginFailureRecord:
    case OP.loginFailureRemove:
      return true;
    default:
      return false;
  }
}

/**
 * What a change beside the table is shipped as: the command itself, except a
 * recorded login failure, which travels as the record it left (set, not
 * counted, by the copies: replayed over a state transfer's records, it
 * cannot count twice).
 */
function shippedFor(command: Command, result: unknown): ShippedCommand['command'] {
  if (command.op !== OP.loginFailureRecord) return command as ShippedCommand['command'];
  const { record } = result as LoginFailureRecordResult;
  return { op: OP.loginFailurePut, realm: command.realm, userId: command.userId, record, expiresAtMs: recordExpiresAtMs(record, bruteForceSettings(command.settings)) };
}

function isWireFailure(value: unknown): value is { $error: WireError } {
  return typeof value === 'object' && value !== null && '$error' in value;
}
