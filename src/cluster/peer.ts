// Peer: this node's connection to one other member. Two gRPC channels (one
// for heartbeats, one for data, so bulk replication never delays a
// heartbeat) and three streams:
//
//   Link       heartbeats every 250 ms; silence or a refused redial makes
//              this node suspect the peer (failure-detector.ts decides)
//   Forward    engine commands for partitions the peer is primary of,
//              batched per event-loop turn, matched to replies by id, each
//              with its own deadline
//   Replicate  opened by the replicator (replicator.ts)
//
// Streams reopen lazily after a failure; grpc-js redials with 100 ms–2 s
// backoff (wire.ts channel options) instead of its 120 s default.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { EngineError } from '../errors.js';
import { fromWireError } from '../protocol/wire-error.js';
import { ClusterClient, channelOptions, type ForwardPayload, type ForwardReply, type ForwardRequest, type LinkFrame } from './wire.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

type Stream = grpc.ClientDuplexStream<unknown, unknown>;

export class Peer {
  readonly node: string;
  readonly address: string;
  /** The peer's lease when this connection was made: another one means the peer joined again (restarted, or its lease lapsed). */
  readonly lease: string;
  readonly #linkClient: grpc.Client;
  readonly #dataClient: grpc.Client;
  #link: Stream | null = null;
  #forward: Stream | null = null;
  readonly #waiters = new Map<number, Waiter>();
  /** Forward requests of this turn, not yet written. */
  #outbox: ForwardRequest[] = [];
  #nextId = 1;
  /** performance.now() of the last frame heard from the peer on our Link stream. */
  lastHeardMs = performance.now();
  /** Whether the peer ever answered on our Link stream (a member still starting up has not). */
  heard = false;
  /** Whether our Link stream to the peer is down (broken, refused). */
  linkDown = false;
  /** performance.now() when the Link stream went down (null while up): the failure detector counts from it. */
  linkDownSinceMs: number | null = null;
  /** Last measured heartbeat round trip, ms. */
  rttMs = 0;
  #closed = false;
  #onBeat: (frame: LinkFrame, rttMs?: number) => void;
  #onLinkDown: () => void;
  /** The hello that opens a Link stream (kept for the redial right after a break). */
  #hello: LinkFrame | null = null;

  /**
   * `credentials`: plaintext, or mutual TLS (transport-security.ts). `onLinkDown`: an established
   * Link stream broke (the failure detector looks again LINK_DOWN_MS later).
   */
  constructor(
    node: string,
    address: string,
    lease: string,
    credentials: grpc.ChannelCredentials,
    onBeat: (frame: LinkFrame, rttMs?: number) => void,
    onLinkDown: () => void = () => {},
  ) {
    this.node = node;
    this.address = address;
    this.lease = lease;
    this.#onBeat = onBeat;
    this.#onLinkDown = onLinkDown;
    this.#linkClient = new ClusterClient(address, credentials, channelOptions('link'));
    this.#dataClient = new ClusterClient(address, credentials, channelOptions('data'));
  }

  /** The data channel's client (the replicator opens its stream there). */
  get dataClient(): grpc.Client {
    return this.#dataClient;
  }

  /** Sends a heartbeat (opening the Link stream when needed). */
  beat(frame: LinkFrame, hello: LinkFrame): void {
    if (this.#closed) return;
    this.#hello = hello;
    (this.#link ?? this.#openLink(hello)).write({ ...frame, echo: performance.now() });
  }

  /**
   * Opens the Link stream with `hello`. When an established stream breaks it
   * is dialled again at once, not at the next beat: a killed peer refuses at
   * once, so the failure detector can judge LINK_DOWN_MS after the break (a
   * live one answers the hello, and the link is up again). A stream that
   * breaks before it ever answered is dialled again at the next beat only.
   */
  #openLink(hello: LinkFrame): Stream {
    const stream = (this.#linkClient as unknown as { Link(): Stream }).Link();
    this.#link = stream;
    let answered = false;
    stream.on('data', (reply: LinkFrame & { echo?: number }) => {
      answered = true;
      this.lastHeardMs = performance.now();
      this.heard = true;
      this.linkDown = false;
      this.linkDownSinceMs = null;
      if (typeof reply.echo === 'number') this.rttMs = performance.now() - reply.echo;
      this.#onBeat(reply, typeof reply.echo === 'number' ? this.rttMs : undefined);
    });
    const broken = (): void => {
      if (this.#link !== stream) return;
      this.#link = null;
      this.linkDown = true;
      this.linkDownSinceMs ??= performance.now();
      if (!answered || this.#closed || this.#hello === null) return;
      this.#openLink(this.#hello);
      this.#onLinkDown();
    };
    stream.on('error', broken);
    stream.on('end', broken);
    stream.write(hello);
    return stream;
  }

  /** Sends a forward request; resolves with the peer's answer or rejects with its EngineError. */
  forward(request: ForwardPayload, deadlineMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new EngineError('ERR_PEER_UNAVAILABLE'));
    const id = this.#nextId++;
    const stream = this.#forwardStream();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new EngineError('ERR_PEER_UNAVAILABLE', `${this.node} did not answer in ${Math.round(deadlineMs)} ms`));
      }, deadlineMs);
      this.#waiters.set(id, { resolve, reject, timer });
      // Requests of one event-loop turn travel in one frame.
      if (this.#outbox.length === 0) setImmediate(() => this.#flushOutbox(stream));
      this.#outbox.push({ ...request, id } as ForwardRequest);
    });
  }

  #flushOutbox(stream: Stream): void {
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0 && this.#forward === stream) stream.write(batch);
  }

  #forwardStream(): Stream {
    if (this.#forward !== null) return this.#forward;
    const stream = (this.#dataClient as unknown as { Forward(): Stream }).Forward();
    this.#forward = stream;
    // The server sends its headers as soon as it accepts the stream: before
    // them, nothing written can have reached it.
    let accepted = false;
    stream.on('metadata', () => (accepted = true));
    stream.on('data', (replies: ForwardReply[]) => {
      for (const reply of replies) {
        const waiter = this.#waiters.get(reply.id);
        if (waiter === undefined) continue;
        this.#waiters.delete(reply.id);
        clearTimeout(waiter.timer);
        if (reply.err !== undefined) waiter.reject(fromWireError(reply.err));
        else waiter.resolve(reply.ok);
      }
    });
    const broken = (): void => {
      if (this.#forward !== stream) return;
      this.#forward = null;
      this.#outbox = []; // their waiters fail below with the others
      // Once accepted, what was in flight may or may not have run on the peer.
      const failure = accepted
        ? new EngineError('ERR_PEER_UNAVAILABLE', `connection to ${this.node} lost`)
        : new EngineError('ERR_PEER_UNAVAILABLE', `${this.node} refused the connection`, { delivered: false });
      for (const [id, waiter] of this.#waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(failure);
        this.#waiters.delete(id);
      }
    };
    stream.on('error', broken);
    stream.on('end', broken);
    return stream;
  }

  close(): void {
    this.#closed = true;
    this.#link?.end();
    this.#forward?.end();
    this.#linkClient.close();
    this.#dataClient.close();
  }
}
