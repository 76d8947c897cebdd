// Goal: a stop does not wait for a keep-alive connection's idle timeout (72 s).
// A connection whose request is under way when the stop begins gets its
// answer, and the node closes the connection once it is idle; the stop then
// completes. (The management server is closed by the same code.)
// Method: a raw keep-alive socket to a real node asks once (the connection
// stays open), then sends a second request's headers and half its body; the
// stop begins; once the server refuses new connections, the rest follows. Were the connection left open, the stop would
// not complete before the test's timeout.

import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import test from 'ava';
import { startNode } from './helpers/node-harness.js';

/** Collects what the server sends, and settles when the server closes the connection. */
function openSocket(url: string): { socket: Socket; received: () => string; closed: Promise<void>; answers: (n: number) => Promise<void> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let data = '';
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const count = (): number => data.split('HTTP/1.1 ').length - 1;
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    data += chunk;
    for (const w of waiters.splice(0)) if (count() >= w.n) w.resolve();
    else waiters.push(w);
  });
  socket.on('error', (err) => (data += `\n[socket error: ${err.message}]`));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const answers = (n: number): Promise<void> => (count() >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  return { socket, received: () => data, closed, answers };
}

/** Resolves once a new connection to `url` is refused. */
async function refusingConnections(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(Number(port), hostname);
      probe.on('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.on('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('stop: a keep-alive connection busy on the public server gets its answer, then is closed, and the stop completes', async (t) => {
  const n = await startNode();
  t.teardown(() => n.stop());
  const { host } = new URL(n.baseUrl);
  const conn = openSocket(n.baseUrl);
  const body = 'grant_type=password&client_id=unknown-client&username=alice&password=x';
  const head = `POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`;

  conn.socket.write(head + body);
  await conn.answers(1);
  const arrived = new Promise((resolve) => n.node.server.server.once('request', resolve));
  conn.socket.write(head + body.slice(0, 10)); // half a request: the connection is busy
  await arrived;

  const stopping = n.stop();
  await refusingConnections(n.baseUrl); // the server is closing
  conn.socket.write(body.slice(10));
  await Promise.race([conn.answers(2), conn.closed]);
  await conn.closed;
  await stopping;

  const statuses = conn.received().match(/HTTP\/1\.1 (\d{3})/g);
  t.deepEqual(statuses, ['HTTP/1.1 401', 'HTTP/1.1 401'], 'both requests answered (an unknown client: 401)');
});

/** GET through node:http (fetch hides the Connection header): status and that header. */
function getRaw(url: string): Promise<{ status: number; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    }).on('error', reject);
  });
}

// Goal: during --shutdown-delay a stopping node reports not ready but still
// answers, each answer asking its client to close the connection, so a load
// balancer moves away before the node stops taking requests.
test('stop: during the shutdown delay readiness is DOWN and requests are still answered, with Connection: close', async (t) => {
  const n = await startNode({ shutdownDelayMs: 5_000 });
  t.teardown(() => n.stop());
  const discovery = `${n.baseUrl}/realms/demo/.well-known/openid-configuration`;
  t.is((await getRaw(`${n.managementUrl}/health/ready`)).status, 200);
  t.is((await getRaw(discovery)).connection, 'keep-alive');

  const stopping = n.stop();
  t.is((await getRaw(`${n.managementUrl}/health/ready`)).status, 503, 'readiness DOWN at once');
  t.deepEqual(await getRaw(discovery), { status: 200, connection: 'close' }, 'still answered, the connection closed after');
  await stopping;
});
