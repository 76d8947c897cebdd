// The frames nodes exchange over gRPC (cluster.proto declares the service with
// `bytes` payloads; these are the msgpack frames inside) and the grpc-js
// service definition with its custom serializers.

import * as grpc from '@grpc/grpc-js';
import { Packr, Unpackr } from 'msgpackr';
import type { CodePutCommand, CodeTakeCommand, Command, LoginFailurePutCommand, LoginFailureRecordCommand, LoginFailureRemoveCommand } from '../protocol/actor-messages.js';
import type { AdminEventQuery, EventQuery } from '../events/event-sink.js';
import type { RecordEnvelope, ReplicatedRecord } from '../protocol/mutations.js';
import type { WireError } from '../protocol/wire-error.js';

/**
 * Bumped when a frame changes shape; a node accepts peers of this version and
 * the one before. 2: transfer chunks carry packed records (`chunk.packed`;
 * version 1 sent chunks of records, `chunk.recs`, still read). 3: a login
 * failure reaches a partition's copies as the record it left
 * (loginFailurePut, idempotent), and a state transfer carries the
 * partition's records; a version 2 peer is still sent the failure to record
 * (loginFailureRecord) and no records with a transfer, so a rolling upgrade
 * from version 2 keeps counting.
 */
export const CLUSTER_PROTOCOL_VERSION = 3;

// --- Link ------------------------------------------------------------------

export interface LinkHello {
  t: 'hello';
  node: string;
  cluster: string;
  protocol: number;
}

export interface LinkBeat {
  t: 'beat';
  node: string;
  /** The partition table revision the sender obeys. */
  table: number;
  /** The configuration revision the sender has applied. */
  config: number;
  /** Whether the sender's last etcd keep-alive succeeded. */
  etcd: boolean;
  /** The member view revision the sender holds (the frozen view during an etcd outage). */
  view: number;
  /**
   * The peers the sender has partitions on their way to (a state transfer or
   * a resync waiting or under way): their copies are not whole yet. Omitted
   * when none (and by older nodes, whose peers then never wait for it).
   */
  sending?: string[];
}

export type LinkFrame = LinkHello | LinkBeat;

// --- Forward ----------------------------------------------------------------

export type ForwardRequest =
  | { id: number; kind: 'ask'; partition: number; command: Command; budgetMs: number }
  | { id: number; kind: 'many'; partitions: number[]; commands: Command[]; budgetMs: number }
  | { id: number; kind: 'scatter'; command: Command; budgetMs: number }
  | { id: number; kind: 'events'; admin: boolean; realm: string; filter: EventQuery | AdminEventQuery; budgetMs: number }
  | { id: number; kind: 'eventsClear'; admin: boolean; realm: string; budgetMs: number };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A forward request before the stream gives it its id. */
export type ForwardPayload = DistributiveOmit<ForwardRequest, 'id'>;

export interface ForwardReply {
  id: number;
  /** The answer (for 'many': one per command, a failed one as `{ $error }`). */
  ok?: unknown;
  err?: WireError;
}

// --- Replicate --------------------------------------------------------------

export interface ReplicateFrame {
  /** Frame number on this stream, from 1; acknowledgements are cumulative. */
  f: number;
  /** The sender's node id: only a partition's current primary may change its copies. */
  from: string;
  /** The sender's table revision. */
  table: number;
  /** Live records of partitions the sender is primary of. */
  recs?: RecordEnvelope[];
  /** Commands the backup runs on its own shard after the records (auth codes, login failures). */
  cmds?: ShippedCommand[];
  /**
   * A state-transfer chunk: sessions of a partition as the records that
   * recreate them, packed by the exporting shard (transfer-chunks.ts) and
   * unpacked only by the applying one; `recs` from a version 1 sender.
   */
  chunk?: { p: number; packed?: Uint8Array; recs?: ReplicatedRecord[] };
  /**
   * The first frame of a transfer of this partition: what the receiver's
   * copy holds and the transfer does not bring is stale, and goes at `done`
   * (an older receiver ignores it and keeps such sessions).
   */
  fresh?: number;
  /** The transfer of this partition is complete: every later record follows live. */
  done?: number;
  /**
   * A copy check (copy-checks.ts): the sender's digests of partitions it is
   * primary of, taken after every record it sent before this frame. The
   * receiver compares its copies' once it applied those records and answers
   * the partitions that differ (`ReplicateAck.differ`); a receiver that
   * knows no checks acknowledges the frame without, as if they were the same.
   */
  check?: { p: number[]; d: string[] };
}

/** A command whose effect is not a session record (auth codes, login failures), replicated by running it on the backup. */
export interface ShippedCommand {
  p: number;
  command: CodePutCommand | CodeTakeCommand | LoginFailurePutCommand | LoginFailureRecordCommand | LoginFailureRemoveCommand;
}

export interface ReplicateAck {
  ack: number;
  /** Set when the frame was refused (not applied): why. */
  refused?: string;
  /** The partitions of the frame's `check` whose copy here differs from the sender's digest (or is not held). */
  differ?: number[];
}

// --- Service ----------------------------------------------------------------

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

const serialize = (value: unknown): Buffer => packr.pack(value);
const deserialize = (bytes: Buffer): unknown => unpackr.unpack(bytes);

function bidi(name: string): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/sessiond.cluster.Cluster/${name}`,
    requestStream: true,
    responseStream: true,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
    originalName: name.toLowerCase(),
  };
}

export const CLUSTER_SERVICE: grpc.ServiceDefinition = {
  Link: bidi('Link'),
  Forward: bidi('Forward'),
  Replicate: bidi('Replicate'),
};

export const ClusterClient = grpc.makeGenericClientConstructor(CLUSTER_SERVICE, 'Cluster');

/**
 * Channel options (docs/cluster.md#grpc-settings): keepalive as a backstop for
 * dead TCP connections (the failure detector is the 250 ms heartbeat), fast
 * redial instead of grpc-js's 120 s maximum backoff, and a private
 * subchannel per stream kind so bulk replication never shares a connection
 * with heartbeats.
 */
export function channelOptions(kind: 'link' | 'data'): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 2_000,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.use_local_subchannel_pool': 1,
    ...(kind === 'data' ? { 'grpc-node.flow_control_window': 8 * 1024 * 1024 } : {}),
  };
}

export const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
};
