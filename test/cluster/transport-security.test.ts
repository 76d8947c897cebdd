// Goal: with --grpc-tls-* a node's gRPC port serves only peers holding a
// certificate of the cluster's CA, its peers accept it only if its
// certificate names the address they dialled, and bad files stop the node at
// start-up with a message naming the option.
// Method: certificates made by openssl in a temp dir; a real gRPC server on
// 127.0.0.1 with the node's server credentials playing a primary, and real
// Peers (the channels cluster members use) forwarding to it.

import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/options.js';
import { Peer } from '../../src/cluster/peer.js';
import { channelCredentials, readClusterTls, serverCredentials, type ClusterTls } from '../../src/cluster/transport-security.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testCa, type NodePki } from '../helpers/test-pki.js';
import { forwardingPrimary } from './forwarding-primary.js';

const GET = { kind: 'ask', partition: 7, command: { op: OP.sessionGet, id: 'x', now: 0 }, budgetMs: 1_000 } as const;
const DEADLINE_MS = 3_000;

function tls(files: NodePki): ClusterTls {
  return readClusterTls(files)!;
}

/** A primary behind `credentials` on 127.0.0.1 (closed when the test ends): answers each forwarded request with 'answered'. */
async function primary(t: ExecutionContext, credentials: grpc.ServerCredentials): Promise<string> {
  const server = await forwardingPrimary('answered', credentials);
  t.teardown(() => server.close());
  return server.address;
}

function peer(t: ExecutionContext, address: string, credentials: grpc.ChannelCredentials): Peer {
  const p = new Peer('b', address, 'lease-1', credentials, () => {});
  t.teardown(() => p.close());
  return p;
}

test('members holding certificates of the cluster CA forward to each other over mutual TLS', async (t) => {
  const ca = testCa(tempDir(t));
  const address = await primary(t, serverCredentials(tls(ca.issue('n1', ['127.0.0.1']))));
  t.is(await peer(t, address, channelCredentials(tls(ca.issue('n2', ['127.0.0.2'])))).forward(GET, DEADLINE_MS), 'answered');
});

test('a TLS node refuses a plaintext client, a client without a certificate and one with another CA\'s certificate', async (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const address = await primary(t, serverCredentials(tls(ca.issue('n1', ['127.0.0.1']))));
  const stranger = tls(testCa(dir, 'other-ca').issue('n9', ['127.0.0.9']));
  const noCertificate = grpc.credentials.createSsl(tls(ca.issue('n2', ['127.0.0.2'])).ca);
  for (const [who, credentials] of [
    ['plaintext', channelCredentials(null)],
    ['no client certificate', noCertificate],
    ['another CA', grpc.credentials.createSsl(tls(ca.issue('n3', ['127.0.0.3'])).ca, stranger.key, stranger.cert)],
  ] as const) {
    const err = await t.throwsAsync(peer(t, address, credentials).forward(GET, DEADLINE_MS), undefined, who);
    t.is((err as { code?: string }).code, 'ERR_PEER_UNAVAILABLE', who);
  }
});

test('a member refuses a peer whose certificate does not name the address it dialled, or that another CA signed', async (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const client = channelCredentials(tls(ca.issue('n2', ['127.0.0.2'])));
  const elsewhere = await primary(t, serverCredentials(tls(ca.issue('n1', ['127.0.0.5']))));
  await t.throwsAsync(peer(t, elsewhere, client).forward(GET, DEADLINE_MS), undefined, 'certificate for 127.0.0.5, dialled 127.0.0.1');
  const other = tls(testCa(dir, 'other-ca').issue('n1', ['127.0.0.1']));
  const impostor = await primary(t, grpc.ServerCredentials.createSsl(other.ca, [{ cert_chain: other.cert, private_key: other.key }], false));
  await t.throwsAsync(peer(t, impostor, client).forward(GET, DEADLINE_MS), undefined, 'server certificate of another CA');
});

test('the TLS files: none is plaintext; some but not all, unreadable files, a non-certificate or a key of another certificate stop the start', (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const n1 = ca.issue('n1', ['127.0.0.1']);
  const n2 = ca.issue('n2', ['127.0.0.2']);
  t.is(readClusterTls({ ca: null, cert: null, key: null }), null);
  const refused = (files: Parameters<typeof readClusterTls>[0], message: RegExp): void => {
    t.throws(() => readClusterTls(files), { instanceOf: ConfigError, message });
  };
  refused({ ...n1, key: null }, /go together/);
  refused({ ...n1, cert: join(dir, 'missing.pem') }, /--grpc-tls-cert .*missing\.pem: ENOENT/);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  refused({ ...n1, ca: garbage }, /--grpc-tls-ca must hold a PEM certificate/);
  refused({ ...n1, cert: garbage }, /--grpc-tls-cert must hold a PEM certificate/);
  refused({ ...n1, key: garbage }, /--grpc-tls-key must hold a PEM private key/);
  refused({ ...n1, key: n2.key }, /is not the key of the certificate/);
});
