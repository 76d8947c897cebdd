// The fault proxy of the cluster tests: a TCP proxy in front of one target
// (a node's gRPC port, etcd's client port) that injects network faults per
// direction, because this kernel has no netem and tests should not need root.
//
//   up   = client → target bytes,  down = target → client bytes
//   delay(ms, jitter)  hold every chunk ms (+ up to jitter) before forwarding
//   rate(bytes/s)      forward at most that many bytes per second
//   blackhole()        forward nothing and read nothing, keep the sockets open
//                      (a partition, a hung host: TCP's own buffers fill up,
//                      and after heal() the stream continues intact, as after
//                      a real partition shorter than the peers' timeouts)
//   drop(p)            each chunk, with probability p, resets the connection
//                      (a byte stream cannot lose a chunk and stay valid)
//   heal()             no fault any more
//   reset()            RST both sides of every current connection, once
//
// By default it mirrors the target: a FIN is passed on as a FIN, a RST as a
// RST (in order with the data, so a delayed or blackholed direction delays
// them too), and a connection whose upstream connect is refused is reset at
// once, so a peer sees a killed node's port exactly as "refused".
// While the up direction is blackholed, a new connection is accepted but not
// dialled upstream: the target sees nothing, as behind a real partition.
//
// Faults apply to every connection (`proxy.up`, `proxy.down`, ...) or only to
// connections from one source (`proxy.from(label)`), when the proxy is given
// a classify() that names a connection's source (e.g. which node process
// owns the client socket: see socket-owner.ts). Both sets combine: delays
// add, the lower rate wins, a blackhole anywhere is a blackhole.

import { EventEmitter } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Bytes a direction may hold (delayed or paused) before it stops reading from its source. */
const PROXY_QUEUE_HIGH_WATER_BYTES = 1024 * 1024;

export interface DirectionFaults {
  delayMs: number;
  jitterMs: number;
  bytesPerSecond: number | null;
  blackholed: boolean;
  dropProbability: number;
}

const NO_FAULTS: DirectionFaults = { delayMs: 0, jitterMs: 0, bytesPerSecond: null, blackholed: false, dropProbability: 0 };

/** The fault controls of one direction. Every control returns `this`, so they chain. */
export class Direction {
  #faults: DirectionFaults = { ...NO_FAULTS };
  readonly #changed: () => void;

  constructor(changed: () => void) {
    this.#changed = changed;
  }

  get faults(): Readonly<DirectionFaults> {
    return this.#faults;
  }

  delay(ms: number, jitterMs = 0): this {
    return this.#set({ delayMs: ms, jitterMs });
  }

  rate(bytesPerSecond: number): this {
    if (!(bytesPerSecond > 0)) throw new RangeError(`rate must be positive, got ${bytesPerSecond}`);
    return this.#set({ bytesPerSecond });
  }

  blackhole(): this {
    return this.#set({ blackholed: true });
  }

  drop(probability: number): this {
    if (!(probability >= 0 && probability <= 1)) throw new RangeError(`drop probability must be in [0, 1], got ${probability}`);
    return this.#set({ dropProbability: probability });
  }

  heal(): this {
    return this.#set({ ...NO_FAULTS });
  }

  #set(change: Partial<DirectionFaults>): this {
    this.#faults = { ...this.#faults, ...change };
    this.#changed();
    return this;
  }
}

/** Both directions of a link, with shorthands that act on both. */
export class LinkFaults {
  readonly up: Direction;
  readonly down: Direction;
  readonly #reset: () => void;

  constructor(changed: () => void, reset: () => void) {
    this.up = new Direction(changed);
    this.down = new Direction(changed);
    this.#reset = reset;
  }

  delay(ms: number, jitterMs = 0): this {
    this.up.delay(ms, jitterMs);
    this.down.delay(ms, jitterMs);
    return this;
  }

  rate(bytesPerSecond: number): this {
    this.up.rate(bytesPerSecond);
    this.down.rate(bytesPerSecond);
    return this;
  }

  blackhole(): this {
    this.up.blackhole();
    this.down.blackhole();
    return this;
  }

  drop(probability: number): this {
    this.up.drop(probability);
    this.down.drop(probability);
    return this;
  }

  heal(): this {
    this.up.heal();
    this.down.heal();
    return this;
  }

  /** RST both sides of every current connection of this link (new ones are unaffected). */
  reset(): this {
    this.#reset();
    return this;
  }
}

function combine(a: DirectionFaults, b: DirectionFaults | undefined): DirectionFaults {
  if (b === undefined) return a;
  const rates = [a.bytesPerSecond, b.bytesPerSecond].filter((r): r is number => r !== null);
  return {
    delayMs: a.delayMs + b.delayMs,
    jitterMs: a.jitterMs + b.jitterMs,
    bytesPerSecond: rates.length === 0 ? null : Math.min(...rates),
    blackholed: a.blackholed || b.blackholed,
    dropProbability: 1 - (1 - a.dropProbability) * (1 - b.dropProbability),
  };
}

type QueueItem = { kind: 'data'; chunk: Buffer; at: number } | { kind: 'end' | 'reset'; at: number };

/** One direction of one connection: reads its source, forwards to its sink under the current faults. */
class Pump {
  readonly #queue: QueueItem[] = [];
  #queuedBytes = 0;
  #lastAt = 0;
  #rateFreeAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #waitingDrain = false;
  #done = false;

  private readonly source: Socket;
  private readonly sink: Socket;
  private readonly faults: () => DirectionFaults;
  private readonly resetConnection: () => void;

  constructor(source: Socket, sink: Socket, faults: () => DirectionFaults, resetConnection: () => void) {
    this.source = source;
    this.sink = sink;
    this.faults = faults;
    this.resetConnection = resetConnection;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.on('end', () => this.#push({ kind: 'end', at: this.#scheduleAt(0) }));
    source.on('error', () => this.#push({ kind: 'reset', at: this.#scheduleAt(0) }));
    source.on('close', (hadError) => {
      // A close without FIN or error (e.g. destroyed by this proxy) ends nothing here.
      if (hadError) this.#push({ kind: 'reset', at: this.#scheduleAt(0) });
    });
    sink.on('drain', () => {
      this.#waitingDrain = false;
      this.pump();
    });
  }

  #onData(chunk: Buffer): void {
    const f = this.faults();
    if (f.dropProbability > 0 && Math.random() < f.dropProbability) {
      this.resetConnection();
      return;
    }
    this.#push({ kind: 'data', chunk, at: this.#scheduleAt(chunk.length) });
  }

  #scheduleAt(bytes: number): number {
    const f = this.faults();
    const now = performance.now();
    let at = now + f.delayMs + Math.random() * f.jitterMs;
    if (f.bytesPerSecond !== null && bytes > 0) {
      this.#rateFreeAt = Math.max(now, this.#rateFreeAt) + (bytes * 1000) / f.bytesPerSecond;
      at = Math.max(at, this.#rateFreeAt);
    }
    at = Math.max(at, this.#lastAt); // never reorder
    this.#lastAt = at;
    return at;
  }

  #push(item: QueueItem): void {
    if (this.#done) return;
    if (item.kind !== 'data' && this.#queue.some((q) => q.kind !== 'data')) return; // one end per direction
    this.#queue.push(item);
    if (item.kind === 'data') this.#queuedBytes += item.chunk.length;
    this.pump();
  }

  /** Forwards what is due; call again whenever the faults change. */
  pump(): void {
    if (this.#done) return;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const f = this.faults();
    if (f.blackholed) {
      this.source.pause();
      return;
    }
    while (this.#queue.length > 0 && !this.#waitingDrain) {
      const head = this.#queue[0]!;
      const wait = head.at - performance.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.pump(), Math.ceil(wait));
        break;
      }
      this.#queue.shift();
      if (head.kind === 'data') {
        this.#queuedBytes -= head.chunk.length;
        if (this.sink.destroyed) continue;
        if (!this.sink.write(head.chunk)) this.#waitingDrain = true;
      } else if (head.kind === 'end') {
        this.#done = true;
        if (!this.sink.destroyed) this.sink.end();
        return;
      } else {
        this.#done = true;
        this.resetConnection();
        return;
      }
    }
    if (this.#queuedBytes >= PROXY_QUEUE_HIGH_WATER_BYTES || this.#waitingDrain) this.source.pause();
    else if (!this.source.destroyed) this.source.resume();
  }

  stop(): void {
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}

class ProxiedConnection {
  upstream: Socket | null = null;
  readonly #pumps: Pump[] = [];
  #closed = false;

  readonly client: Socket;
  readonly source: string | undefined;
  private readonly onClosed: (c: ProxiedConnection) => void;

  constructor(client: Socket, source: string | undefined, onClosed: (c: ProxiedConnection) => void) {
    this.client = client;
    this.source = source;
    this.onClosed = onClosed;
    client.on('close', () => this.#maybeClosed());
  }

  attach(upstream: Socket, up: () => DirectionFaults, down: () => DirectionFaults): void {
    this.upstream = upstream;
    upstream.on('close', () => this.#maybeClosed());
    this.#pumps.push(new Pump(this.client, upstream, up, () => this.reset()), new Pump(upstream, this.client, down, () => this.reset()));
  }

  pump(): void {
    for (const p of this.#pumps) p.pump();
  }

  reset(): void {
    for (const p of this.#pumps) p.stop();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream !== null && !this.upstream.destroyed) this.upstream.resetAndDestroy();
  }

  #maybeClosed(): void {
    if (this.#closed) return;
    if (!this.client.destroyed || (this.upstream !== null && !this.upstream.destroyed)) return;
    this.#closed = true;
    for (const p of this.#pumps) p.stop();
    this.onClosed(this);
  }
}

export interface FaultProxyOptions {
  /** Where connections go. */
  target: { host: string; port: number };
  /** Where the proxy listens: 127.0.0.1 and a free port by default. */
  host?: string;
  port?: number;
  /** Names a new connection's source, for `from(label)` faults (undefined: unknown source). */
  classify?: (client: Socket) => Promise<string | undefined>;
}

export class FaultProxy {
  /** Faults on every connection, client → target. */
  readonly up: Direction;
  /** Faults on every connection, target → client. */
  readonly down: Direction;
  readonly #all: LinkFaults;
  readonly #bySource = new Map<string, LinkFaults>();
  readonly #connections = new Set<ProxiedConnection>();
  readonly #changes = new EventEmitter();
  readonly #server: Server;
  readonly #options: FaultProxyOptions;
  /** Connections accepted since the start (for tests and diagnostics). */
  accepted = 0;

  private constructor(server: Server, options: FaultProxyOptions) {
    this.#server = server;
    this.#options = options;
    this.#changes.setMaxListeners(0);
    this.#all = new LinkFaults(() => this.#changed(), () => this.#resetWhere(() => true));
    this.up = this.#all.up;
    this.down = this.#all.down;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const proxy = new FaultProxy(server, options);
    server.on('connection', (client) => void proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** host:port to dial (what a node's --grpc-advertise takes). */
  get address(): string {
    return `${this.#options.host ?? '127.0.0.1'}:${this.port}`;
  }

  /** Open connections right now. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Open connections per source (undefined: classify() named none). */
  sources(): Map<string | undefined, number> {
    const out = new Map<string | undefined, number>();
    for (const c of this.#connections) out.set(c.source, (out.get(c.source) ?? 0) + 1);
    return out;
  }

  /** The faults of connections from one source (as named by classify()). */
  from(source: string): LinkFaults {
    let link = this.#bySource.get(source);
    if (link === undefined) {
      link = new LinkFaults(() => this.#changed(), () => this.#resetWhere((c) => c.source === source));
      this.#bySource.set(source, link);
    }
    return link;
  }

  delay(ms: number, jitterMs = 0): this {
    this.#all.delay(ms, jitterMs);
    return this;
  }

  rate(bytesPerSecond: number): this {
    this.#all.rate(bytesPerSecond);
    return this;
  }

  blackhole(): this {
    this.#all.blackhole();
    return this;
  }

  drop(probability: number): this {
    this.#all.drop(probability);
    return this;
  }

  /** No fault at all any more: the global ones and every source's. */
  heal(): this {
    this.#all.heal();
    for (const link of this.#bySource.values()) link.heal();
    return this;
  }

  /** RST both sides of every current connection. */
  reset(): this {
    this.#all.reset();
    return this;
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    this.#resetWhere(() => true);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #faults(direction: 'up' | 'down', source: string | undefined): DirectionFaults {
    const own = source === undefined ? undefined : this.#bySource.get(source)?.[direction].faults;
    return combine(this.#all[direction].faults, own);
  }

  #changed(): void {
    for (const c of this.#connections) c.pump();
    this.#changes.emit('change');
  }

  #resetWhere(match: (c: ProxiedConnection) => boolean): void {
    for (const c of [...this.#connections]) if (match(c)) c.reset();
  }

  async #accept(client: Socket): Promise<void> {
    this.accepted++;
    client.on('error', () => {}); // mirrored by the pumps; never an uncaught error
    let source: string | undefined;
    try {
      source = await this.#options.classify?.(client);
    } catch {
      source = undefined;
    }
    const conn = new ProxiedConnection(client, source, (c) => this.#connections.delete(c));
    this.#connections.add(conn);
    // Behind a partition the target sees no connection at all until it heals.
    while (this.#faults('up', source).blackholed && !client.destroyed) {
      await new Promise((resolve) => {
        this.#changes.once('change', resolve);
        client.once('close', resolve);
      });
    }
    if (client.destroyed) {
      this.#connections.delete(conn);
      return;
    }
    const upstream = connect({ host: this.#options.target.host, port: this.#options.target.port, allowHalfOpen: true });
    upstream.on('error', () => {});
    upstream.once('error', () => {
      // Refused (or failed before connecting): the client sees a reset at once.
      if (conn.upstream === null) conn.reset();
    });
    upstream.once('connect', () => {
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      conn.attach(upstream, () => this.#faults('up', source), () => this.#faults('down', source));
      conn.pump();
    });
    upstream.once('close', () => {
      if (conn.upstream === null) {
        if (!client.destroyed) client.resetAndDestroy();
        this.#connections.delete(conn);
      }
    });
  }
}
