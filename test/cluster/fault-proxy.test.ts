// Goal: each control of the fault proxy does what the cluster scenarios rely
// on, on real sockets: plain forwarding, FIN and RST mirrored, a refused
// upstream seen at once, delay and rate slowing a direction, blackhole
// holding bytes (sockets open) until heal delivers them intact, reset and
// drop closing both sides, faults aimed at one source only, and the source
// of a connection named by the process that owns it. Method: a real TCP
// server on 127.0.0.1 behind the proxy, clients on real sockets (one in a
// child process). Time is only compared in orders of magnitude: a delay of
// 300 ms must cost at least 300 ms; a blackhole holds bytes far longer than
// a healthy round trip takes.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { FaultProxy } from './fault-proxy.js';
import { ProxyHost } from './proxy-host.js';
import { socketOwnerClassifier } from './socket-owner.js';
import { freePort } from '../helpers/node-process.js';

/** A server that echoes, and remembers its accepted sockets. */
async function echoServer(t: ExecutionContext): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as { port: number }).port, sockets };
}

async function proxyTo(t: ExecutionContext, port: number, classify?: (s: Socket) => Promise<string | undefined>): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port }, ...(classify ? { classify } : {}) });
  t.teardown(() => proxy.close());
  return proxy;
}

async function dial(t: ExecutionContext, port: number, host = '127.0.0.1'): Promise<Socket> {
  const s = connect({ host, port, allowHalfOpen: true });
  s.on('error', () => {});
  t.teardown(() => s.destroy());
  await once(s, 'connect');
  return s;
}

/** Resolves with the first `n` bytes the socket receives (from now on). */
function receive(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(chunks).subarray(0, n));
      }
    };
    s.on('data', onData);
  });
}

/** How a socket ended: 'end' (FIN), 'reset' (ECONNRESET), or 'open' if neither within `ms`. */
function ending(s: Socket, ms: number): Promise<'end' | 'reset' | 'open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), ms);
    s.once('end', () => (clearTimeout(timer), resolve('end')));
    s.once('error', (err: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(err.code === 'ECONNRESET' ? 'reset' : 'open')));
    s.resume();
  });
}

async function roundTrip(s: Socket, payload: string): Promise<number> {
  const started = performance.now();
  const got = receive(s, payload.length);
  s.write(payload);
  await got;
  return performance.now() - started;
}

test('forwards both ways and mirrors a FIN in each direction', async (t) => {
  const { port } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  const echoed = receive(client, 5);
  client.write('hello');
  t.is((await echoed).toString(), 'hello');
  // The echo server ends its side when ours ends (pipe): a FIN travels both ways.
  const end = ending(client, 5000);
  client.end();
  t.is(await end, 'end');
});

test('mirrors a RST from the target', async (t) => {
  const { port, sockets } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  await roundTrip(client, 'x');
  const end = ending(client, 5000);
  sockets[0]!.resetAndDestroy();
  t.is(await end, 'reset');
});

test('a connect whose upstream is refused is reset at once', async (t) => {
  const proxy = await proxyTo(t, await freePort());
  const client = await dial(t, proxy.port);
  t.is(await ending(client, 5000), 'reset');
});

test('delay holds every chunk of a direction at least that long', async (t) => {
  const { port } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  await roundTrip(client, 'warm');
  proxy.up.delay(300);
  t.true((await roundTrip(client, 'slow')) >= 300);
  proxy.down.delay(300);
  t.true((await roundTrip(client, 'slower')) >= 600);
  proxy.heal();
  t.true((await roundTrip(client, 'fast')) < 300);
});

test('rate caps the bytes per second of a direction', async (t) => {
  const { port } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  proxy.down.rate(100_000);
  // 50 kB at 100 kB/s cannot come back in less than 0.5 s (minus the first chunk's share).
  t.true((await roundTrip(client, 'x'.repeat(50_000))) >= 400);
});

test('blackhole forwards nothing and keeps the sockets open; heal delivers the held bytes intact and in order', async (t) => {
  const { port } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  await roundTrip(client, 'warm');
  proxy.blackhole();
  const payload = Array.from({ length: 2000 }, (_, i) => `${i};`).join('');
  const got = receive(client, payload.length);
  client.write(payload);
  const early = await Promise.race([got.then(() => 'echoed'), new Promise((r) => setTimeout(() => r('held'), 300))]);
  t.is(early, 'held');
  t.is(await ending(client, 100), 'open', 'nothing closed the connection');
  proxy.heal();
  t.is((await got).toString(), payload);
});

test('one-way blackhole: the other direction still flows', async (t) => {
  const received: Buffer[] = [];
  const server = createServer((s) => s.on('data', (c) => received.push(c)).on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const proxy = await proxyTo(t, (server.address() as { port: number }).port);
  const client = await dial(t, proxy.port);
  proxy.down.blackhole();
  client.write('through');
  while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
  t.is(Buffer.concat(received).toString(), 'through');
});

test('a new connection behind a blackholed up direction never reaches the target until heal', async (t) => {
  const { port, sockets } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  proxy.up.blackhole();
  const client = await dial(t, proxy.port);
  const got = receive(client, 2);
  client.write('hi');
  await new Promise((r) => setTimeout(r, 200));
  t.is(sockets.length, 0, 'the target saw no connection');
  proxy.heal();
  t.is((await got).toString(), 'hi');
  t.is(sockets.length, 1);
});

test('reset sends a RST to both sides of every current connection; new connections work', async (t) => {
  const { port, sockets } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  const client = await dial(t, proxy.port);
  await roundTrip(client, 'x');
  const clientEnd = ending(client, 5000);
  const serverEnd = ending(sockets[0]!, 5000);
  proxy.reset();
  t.is(await clientEnd, 'reset');
  t.is(await serverEnd, 'reset');
  const again = await dial(t, proxy.port);
  await roundTrip(again, 'y');
  t.pass();
});

test('drop(1) resets the connection on its first chunk; drop(0) forwards everything', async (t) => {
  const { port } = await echoServer(t);
  const proxy = await proxyTo(t, port);
  proxy.drop(0);
  const fine = await dial(t, proxy.port);
  await roundTrip(fine, 'ok');
  proxy.up.drop(1);
  const client = await dial(t, proxy.port);
  const end = ending(client, 5000);
  client.write('lost');
  t.is(await end, 'reset');
  t.throws(() => proxy.drop(2), { instanceOf: RangeError });
});

test('faults aimed at one source leave the others alone', async (t) => {
  const { port } = await echoServer(t);
  const labels = new Map<number, string>();
  // The client learns its port only after connecting: the classifier waits a moment for the label.
  const proxy = await proxyTo(t, port, async (s) => {
    for (let i = 0; i < 20 && !labels.has(s.remotePort!); i++) await new Promise((r) => setTimeout(r, 10));
    return labels.get(s.remotePort!);
  });
  const a = await dial(t, proxy.port);
  labels.set(a.localPort!, 'a');
  const b = await dial(t, proxy.port);
  labels.set(b.localPort!, 'b');
  const c = await dial(t, proxy.port); // never labelled: an unknown source
  await roundTrip(c, 'classified');
  t.deepEqual(proxy.sources(), new Map([['a', 1], ['b', 1], [undefined, 1]]));
  proxy.from('a').blackhole();
  await roundTrip(b, 'b is fine');
  await roundTrip(c, 'so is c');
  const held = receive(a, 4);
  a.write('a?!!');
  const early = await Promise.race([held.then(() => 'echoed'), new Promise((r) => setTimeout(() => r('held'), 200))]);
  t.is(early, 'held');
  proxy.heal();
  t.is((await held).toString(), 'a?!!');
});

test('the socket-owner classifier names the process that opened a connection', async (t) => {
  const { port } = await echoServer(t);
  const pids = new Map<string, number | undefined>([['me', process.pid]]);
  const classify = socketOwnerClassifier(() => pids);
  const seen: Array<string | undefined> = [];
  const proxy = await proxyTo(t, port, async (s) => {
    const label = await classify(s);
    seen.push(label);
    return label;
  });
  const script = 'const s = require("net").connect(Number(process.argv[1]), "127.0.0.1"); s.on("data", (d) => process.stdout.write(d)); process.stdin.once("data", () => s.write("ping")); process.stdin.on("end", () => process.exit(0))';
  const child = spawn(process.execPath, ['-e', script, String(proxy.port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  pids.set('child', child.pid);
  child.stdin!.write('go');
  const [pong] = (await once(child.stdout!, 'data')) as [Buffer];
  t.is(pong.toString(), 'ping');
  const mine = await dial(t, proxy.port);
  await roundTrip(mine, 'x');
  t.deepEqual(seen, ['child', 'me']);
});

test('the proxy host runs proxies in a child process and applies each control before it answers', async (t) => {
  const { port, sockets } = await echoServer(t);
  const host = ProxyHost.start();
  t.teardown(() => host.close());
  const opened = await host.open('echo', { host: '127.0.0.1', port }, true);
  await host.setPids(new Map([['me', process.pid]]));
  const client = await dial(t, opened.port, opened.address.slice(0, opened.address.lastIndexOf(':')));
  await roundTrip(client, 'through the child');
  t.deepEqual(await host.sources('echo'), new Map([['me', 1]]), 'the child names the process that dialled');
  await host.fault({ proxy: 'echo', source: 'me', direction: 'up', action: { kind: 'blackhole' } });
  const held = receive(client, 4);
  client.write('held');
  const early = await Promise.race([held.then(() => 'echoed'), new Promise((r) => setTimeout(() => r('held'), 200))]);
  t.is(early, 'held');
  await host.heal('echo');
  t.is((await held).toString(), 'held');
  const end = ending(sockets[0]!, 5000);
  await host.reset('echo');
  t.is(await end, 'reset');
  await t.throwsAsync(host.fault({ proxy: 'nope', direction: 'both', action: { kind: 'heal' } }), { message: 'no proxy nope' });
});
