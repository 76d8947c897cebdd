// PartitionRouter: the one way an engine call reaches the owner of a
// partition. The engine names a partition (a user's, or the one a session id
// encodes) or asks for every partition at once (realm- and client-wide
// queries); the router decides who runs the command. LocalRouter sends it to
// this node's shard for the partition (`partition mod shards`); a cluster
// router forwards it to the partition's primary on another node instead,
// behind the same interface, so the engine never spells routing out.
//
// Scatter: a command addressed to every partition runs once per owner (here:
// once per shard), and each owner answers for all the partitions it holds as
// primary. The caller merges the answers; their number says nothing about
// partitions.

import { EngineError } from '../errors.js';
import type { Command, ResultOf } from '../protocol/actor-messages.js';
import { partitionOf, partitionOfSessionId, shardOfPartition } from '../protocol/partition.js';
import type { ActorPool } from './actor-pool.js';

/** The answer of command `C`. */
export type ResultFor<C extends Command> = ResultOf[C['op']];

export interface PartitionRouter {
  /** Runs `command` on the owner of `partition`. */
  ask<C extends Command>(partition: number, command: C): Promise<ResultFor<C>>;
  /**
   * Runs each command on the owner of its partition (`partitions[i]` for
   * `commands[i]`) behind one promise per owner; a failed command's answer is
   * its EngineError. Refused whole with ERR_ACTOR_OVERLOADED when an owner's
   * mailbox cannot take its part.
   */
  askMany<C extends Command>(partitions: readonly number[], commands: readonly C[]): Promise<(ResultFor<C> | EngineError)[]>;
  /** Runs `command` once per owner of the partitions; resolves with every owner's answer. */
  scatter<C extends Command>(command: C): Promise<ResultFor<C>[]>;
}

/** The partition a session id encodes, or -1 for text that is not a session id. */
export function partitionOfSession(sessionId: string): number {
  return partitionOfSessionId(sessionId);
}

/** The partition of a user's sessions. */
export function partitionOfUser(realmId: string, userId: string): number {
  return partitionOf(realmId, userId);
}

/** Every partition lives on this node: partition p runs on shard `p mod shards`. */
export class LocalRouter implements PartitionRouter {
  readonly #pool: ActorPool;

  constructor(pool: ActorPool) {
    this.#pool = pool;
  }

  ask<C extends Command>(partition: number, command: C): Promise<ResultFor<C>> {
    return this.#pool.ask(this.#shardOf(partition), command);
  }

  async askMany<C extends Command>(partitions: readonly number[], commands: readonly C[]): Promise<(ResultFor<C> | EngineError)[]> {
    const out = new Array<ResultFor<C> | EngineError>(commands.length);
    const byShard = this.#pool.channels.map(() => ({ commands: [] as C[], positions: [] as number[] }));
    for (let i = 0; i < commands.length; i++) {
      const part = byShard[this.#shardOf(partitions[i]!)]!;
      part.commands.push(commands[i]!);
      part.positions.push(i);
    }
    const answers = await Promise.all(byShard.map((part, shard) => this.#pool.askMany(shard, part.commands)));
    answers.forEach((results, shard) => {
      const positions = byShard[shard]!.positions;
      for (let i = 0; i < results.length; i++) out[positions[i]!] = results[i]!;
    });
    return out;
  }

  scatter<C extends Command>(command: C): Promise<ResultFor<C>[]> {
    return this.#pool.broadcast(command);
  }

  #shardOf(partition: number): number {
    if (!(Number.isInteger(partition) && partition >= 0)) throw new EngineError('ERR_INVALID_ARGUMENT', `no partition ${partition}`);
    return shardOfPartition(partition, this.#pool.size);
  }
}
