// Goal: with --grpc-tls-* a node's gRPC port serves only peers holding a
// certificate of the cluster's CA, its peers accept it only if its
// certificate names the address they dialled, and bad files stop the node at
// start-up with a message naming the option. With --cluster-etcd-* a node
// joins an etcd that requires client certificates over TLS; without a client
// certificate of etcd's CA, or facing an etcd whose certificate its CA did
// not sign for the dialled host, it fails at once, saying why.
// Method: certificates made by openssl in a temp dir; a real gRPC server on
// 127.0.0.1 with the node's server credentials playing a primary, and real
// Peers (the channels cluster members use) forwarding to it; a real etcd on
// 127.0.0.1 serving https:// with --client-cert-auth, and ControlPlanes (what
// a cluster member joins with) given the node's etcd credentials.

import test, { type ExecutionContext } from 'ava';
import * as grpc from '@grpc/grpc-js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { ConfigError } from '../../src/config/options.js';
import { ControlPlane } from '../../src/cluster/control-plane.js';
import { Peer } from '../../src/cluster/peer.js';
import { channelCredentials, ClusterCertificates, serverCredentials, type CertificateSet } from '../../src/cluster/cluster-certificates.js';
import { readClusterTls, readEtcdTls } from '../../src/cluster/transport-security.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { EtcdProcess } from '../helpers/etcd-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testCa, type NodePki } from '../helpers/test-pki.js';
import { forwardingPrimary } from './forwarding-primary.js';

const GET = { kind: 'ask', partition: 7, command: { op: OP.sessionGet, id: 'x', now: 0 }, budgetMs: 1_000 } as const;
const DEADLINE_MS = 3_000;
/** A refused TLS handshake with etcd fails a join at once (milliseconds here); this bounds it on a loaded machine. */
const ETCD_REFUSAL_MS = 5_000;

function tls(files: NodePki): ClusterCertificates {
  return ClusterCertificates.read(files)!;
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
  const stranger = readClusterTls(testCa(dir, 'other-ca').issue('n9', ['127.0.0.9']))!;
  const noCertificate = grpc.credentials.createSsl(readClusterTls(ca.issue('n2', ['127.0.0.2']))!.ca);
  for (const [who, credentials] of [
    ['plaintext', channelCredentials(null)],
    ['no client certificate', noCertificate],
    ['another CA', grpc.credentials.createSsl(readClusterTls(ca.issue('n3', ['127.0.0.3']))!.ca, stranger.key, stranger.cert)],
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
  const other = readClusterTls(testCa(dir, 'other-ca').issue('n1', ['127.0.0.1']))!;
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

/** A real etcd on 127.0.0.1 serving TLS with this certificate and requiring client certificates of its CA, stopped at the test's end. */
async function tlsEtcd(t: ExecutionContext, files: NodePki): Promise<EtcdProcess> {
  const etcd = await EtcdProcess.start({ tls: files });
  t.teardown(() => etcd.cleanup());
  return etcd;
}

/** A member's control plane dialling `url` (not started yet), closed at the test's end. */
function plane(t: ExecutionContext, url: string, node: string, tls: ClusterCertificates | null): ControlPlane {
  const p = new ControlPlane({ hosts: [url], tls, cluster: 'tls', node, address: `127.0.0.1:${node.length}`, log: pino({ level: 'silent' }) });
  t.teardown(() => p.close());
  return p;
}

test('members holding client certificates of etcd\'s CA join it over TLS and see each other', async (t) => {
  const ca = testCa(tempDir(t));
  const etcd = await tlsEtcd(t, ca.issue('etcd', ['127.0.0.1']));
  t.true(etcd.clientUrl.startsWith('https://'));
  const a = plane(t, etcd.clientUrl, 'a', ClusterCertificates.readEtcd(ca.issue('n1', ['127.0.0.1'])));
  const b = plane(t, etcd.clientUrl, 'b', ClusterCertificates.readEtcd(ca.issue('n2', ['127.0.0.2'])));
  await a.reach();
  await a.start();
  await b.start();
  t.true(a.leaseValid && b.leaseValid);
  t.deepEqual(b.view.members.map((m) => m.node).sort(), ['a', 'b'], 'the later member sees both');
  t.is(a.member('a')?.lease, a.leaseId, 'a holds its member key under the lease it renews');
});

test('a node fails at once to reach etcd over TLS, saying why: no client certificate, one of another CA, etcd\'s certificate of another CA or for another host, plaintext', async (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const etcd = await tlsEtcd(t, ca.issue('etcd', ['127.0.0.1']));
  const elsewhere = await tlsEtcd(t, ca.issue('etcd-elsewhere', ['127.0.0.5']));
  const good = ClusterCertificates.readEtcd(ca.issue('n1', ['127.0.0.1']))!.current;
  const stranger = ClusterCertificates.readEtcd(testCa(dir, 'other-ca').issue('n9', ['127.0.0.9']))!.current;
  const fixed = (set: CertificateSet): ClusterCertificates => new ClusterCertificates(() => set, set);
  const refusedClient = /etcd refused this node's client certificate, or its lack of one/;
  const failedCheck = /etcd's certificate failed this node's check: it must be signed by the CA in --cluster-etcd-ca/;
  for (const [who, url, tls, why] of [
    ['no client certificate', etcd.clientUrl, fixed({ ...good, cert: null, key: null }), refusedClient],
    ['a client certificate of another CA', etcd.clientUrl, fixed({ ...stranger, ca: good.ca }), refusedClient],
    ['another CA trusted for etcd\'s certificate', etcd.clientUrl, fixed({ ...good, ca: stranger.ca }), failedCheck],
    ['etcd\'s certificate names another host', elsewhere.clientUrl, fixed(good), failedCheck],
    ['plaintext to etcd\'s TLS port', etcd.clientUrl.replace('https:', 'http:'), null, /\(plaintext\)/],
  ] as const) {
    const started = performance.now();
    const err = await t.throwsAsync(plane(t, url, 'b', tls).reach(), undefined, who);
    t.true(performance.now() - started < ETCD_REFUSAL_MS, `${who}: failed within ${ETCD_REFUSAL_MS} ms`);
    t.true(err?.message.startsWith(`cannot reach etcd at ${url} (`), `${who}: ${err?.message}`);
    t.regex(err?.message ?? '', why, who);
    t.false(err?.message.includes('\n'), `${who}: one line`);
    await t.throwsAsync(plane(t, url, 'c', tls).start(), undefined, `${who}: cannot join either`);
  }
});

test('a renewed etcd client certificate is presented by the next connection to etcd: the node keeps reaching an etcd that now takes only the new one', async (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  // etcd names 127.0.0.9 too: its own health checks present its certificate once it takes only certificates naming that address.
  const etcd = await tlsEtcd(t, ca.issue('etcd', ['127.0.0.1', '127.0.0.9']));
  const files = ca.issue('n1', ['127.0.0.1']);
  const certificates = ClusterCertificates.readEtcd(files)!;
  const before = certificates.current;
  const a = plane(t, etcd.clientUrl, 'a', certificates);
  await a.start();
  t.is(certificates.reload().outcome, 'unchanged');

  // The certificate manager writes a renewed certificate (naming 127.0.0.9 as well) over the files; the node reads them again.
  const renewed = ca.issue('n1-renewed', ['127.0.0.1', '127.0.0.9']);
  writeFileSync(files.cert, readFileSync(renewed.cert));
  writeFileSync(files.key, readFileSync(renewed.key));
  t.is(certificates.reload().outcome, 'reloaded');
  t.true(certificates.expiresAt !== null && certificates.expiresAt > Date.now() / 1000);

  // etcd restarts taking only client certificates that name 127.0.0.9: every connection to it is new.
  await etcd.stop();
  etcd.extraArgs = ['--client-cert-allowed-hostname', '127.0.0.9'];
  await etcd.restart();
  await a.reach();
  const old = plane(t, etcd.clientUrl, 'b', new ClusterCertificates(() => before, before));
  await t.throwsAsync(old.reach(), { message: /etcd refused this node's client certificate/ }, 'the certificate before the renewal is refused');
});

test('the etcd TLS files: none is plaintext, the CA alone is TLS without a client certificate; a certificate without its key or the CA, unreadable files, a non-certificate or a key of another certificate stop the start', (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const n1 = ca.issue('n1', ['127.0.0.1']);
  const n2 = ca.issue('n2', ['127.0.0.2']);
  t.is(readEtcdTls({ ca: null, cert: null, key: null }), null);
  t.deepEqual(Object.keys(readEtcdTls({ ca: n1.ca, cert: null, key: null })!), ['rootCertificate']);
  t.deepEqual(Object.keys(readEtcdTls(n1)!).sort(), ['certChain', 'privateKey', 'rootCertificate']);
  const refused = (files: Parameters<typeof readEtcdTls>[0], message: RegExp): void => {
    t.throws(() => readEtcdTls(files), { instanceOf: ConfigError, message });
  };
  refused({ ...n1, key: null }, /--cluster-etcd-cert and --cluster-etcd-key go together/);
  refused({ ...n1, ca: null }, /need --cluster-etcd-ca/);
  refused({ ...n1, ca: join(dir, 'missing.pem') }, /--cluster-etcd-ca .*missing\.pem: ENOENT/);
  refused({ ...n1, key: join(dir, 'missing.key') }, /--cluster-etcd-key .*missing\.key: ENOENT/);
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a certificate\n');
  refused({ ...n1, ca: garbage }, /--cluster-etcd-ca must hold a PEM certificate/);
  refused({ ...n1, cert: garbage }, /--cluster-etcd-cert must hold a PEM certificate/);
  refused({ ...n1, key: garbage }, /--cluster-etcd-key must hold a PEM private key/);
  refused({ ...n1, key: n2.key }, /--cluster-etcd-key is not the key of the certificate in --cluster-etcd-cert/);
});
