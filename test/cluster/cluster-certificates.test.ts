// Goal: renewed --grpc-tls-* files are used without a restart: after a
// reload the node's gRPC server presents the new certificate to the next
// connection and its channels present the new client certificate, while
// links already open keep working; a half-written rotation (a certificate
// beside the old key) is refused and the current set stays in use until the
// files are whole again; unchanged files are left alone.
// Method: certificates made by openssl in a temp dir and re-issued in place;
// a real gRPC server on 127.0.0.1 playing a primary behind the node's server
// credentials, read by plain TLS handshakes (the certificate it presents)
// and by real Peers forwarding to it; a plain TLS server that records the
// client certificate a gRPC channel with the node's credentials presents.

import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { channelCredentials, ClusterCertificates, serverCredentials } from '../../src/cluster/cluster-certificates.js';
import { Peer } from '../../src/cluster/peer.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testCa, type NodePki, type TestCa } from '../helpers/test-pki.js';
import { forwardingPrimary } from './forwarding-primary.js';

const GET = { kind: 'ask', partition: 7, command: { op: OP.sessionGet, id: 'x', now: 0 }, budgetMs: 1_000 } as const;
const DEADLINE_MS = 3_000;

const serialOf = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber;

/** The serial of the certificate a TLS server presents to a client holding `client`'s certificate. */
function presentedSerial(port: number, client: NodePki): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(client.ca), cert: readFileSync(client.cert), key: readFileSync(client.key), ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

async function tlsPrimary(t: ExecutionContext, certificates: ClusterCertificates): Promise<{ address: string; port: number }> {
  const server = await forwardingPrimary('answered', serverCredentials(certificates));
  t.teardown(() => server.close());
  return { address: server.address, port: Number(server.address.split(':')[1]) };
}

function peer(t: ExecutionContext, address: string, credentials: grpc.ChannelCredentials): Peer {
  const p = new Peer('b', address, 'lease-1', credentials, () => {});
  t.teardown(() => p.close());
  return p;
}

function setup(t: ExecutionContext): { ca: TestCa; n1: NodePki; certificates: ClusterCertificates; client: NodePki } {
  const ca = testCa(tempDir(t));
  const n1 = ca.issue('n1', ['127.0.0.1']);
  return { ca, n1, certificates: ClusterCertificates.read(n1)!, client: ca.issue('n2', ['127.0.0.2']) };
}

test('the server presents a renewed certificate to the next connection; a link already open keeps forwarding', async (t) => {
  const { ca, n1, certificates, client } = setup(t);
  const { address, port } = await tlsPrimary(t, certificates);
  const before = serialOf(n1.cert);
  t.is(await presentedSerial(port, client), before);
  const open = peer(t, address, channelCredentials(ClusterCertificates.read(client)!));
  t.is(await open.forward(GET, DEADLINE_MS), 'answered');

  ca.issue('n1', ['127.0.0.1']); // renewed in place: new key, new certificate
  t.not(serialOf(n1.cert), before);
  t.deepEqual(certificates.reload(), { outcome: 'reloaded' });
  t.is(await presentedSerial(port, client), serialOf(n1.cert), 'the new certificate');
  t.is(await open.forward(GET, DEADLINE_MS), 'answered', 'the open link');
  t.is(await peer(t, address, channelCredentials(ClusterCertificates.read(client)!)).forward(GET, DEADLINE_MS), 'answered', 'a new link');
  t.deepEqual(certificates.reload(), { outcome: 'unchanged' });
});

test('a half-written rotation is refused and the current certificates stay in use; the completed one is taken', async (t) => {
  const { ca, n1, certificates, client } = setup(t);
  const { address, port } = await tlsPrimary(t, certificates);
  const before = serialOf(n1.cert);
  const oldKey = readFileSync(n1.key);
  const oldExpiry = certificates.expiresAt;
  const renewed = ca.issue('n1', ['127.0.0.1']);
  const newKey = readFileSync(renewed.key);
  writeFileSync(n1.key, oldKey); // the certificate was replaced, its key not yet

  const refused = certificates.reload();
  t.is(refused.outcome, 'refused');
  t.regex((refused as { reason: string }).reason, /--grpc-tls-key is not the key of the certificate in --grpc-tls-cert/);
  t.is(await presentedSerial(port, client), before, 'the current certificate');
  t.is(certificates.expiresAt, oldExpiry);
  t.is(await peer(t, address, channelCredentials(ClusterCertificates.read(client)!)).forward(GET, DEADLINE_MS), 'answered');

  writeFileSync(n1.key, newKey);
  t.deepEqual(certificates.reload(), { outcome: 'reloaded' });
  t.is(await presentedSerial(port, client), serialOf(n1.cert));
  t.is(certificates.expiresAt, Math.floor(Date.parse(new X509Certificate(readFileSync(n1.cert)).validTo) / 1000));
});

test('a channel presents the renewed client certificate on its next connection', async (t) => {
  const { ca, n1, certificates } = setup(t);
  const server = ca.issue('n9', ['127.0.0.1']);
  const presented: string[] = [];
  const tlsServer = createServer(
    { key: readFileSync(server.key), cert: readFileSync(server.cert), ca: readFileSync(server.ca), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (socket: TLSSocket) => {
      presented.push(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    },
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  t.teardown(() => tlsServer.close());
  const port = (tlsServer.address() as { port: number }).port;
  const credentials = channelCredentials(certificates);
  /** A new channel (its own subchannel, so a new connection) dials once; resolves with the serial the server saw. */
  const dial = async (): Promise<string> => {
    const seen = presented.length;
    const client = new grpc.Client(`127.0.0.1:${port}`, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    t.teardown(() => client.close());
    client.waitForReady(Date.now() + DEADLINE_MS, () => {});
    const deadline = Date.now() + DEADLINE_MS;
    while (presented.length === seen && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    client.close();
    return presented[seen] ?? 'none';
  };
  t.is(await dial(), serialOf(n1.cert));
  ca.issue('n1', ['127.0.0.1']);
  t.is(certificates.reload().outcome, 'reloaded');
  t.is(await dial(), serialOf(n1.cert), 'the renewed certificate');
});
