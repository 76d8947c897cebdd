// Transport security of a cluster node: mutual TLS between members
// (--grpc-tls-ca, --grpc-tls-cert, --grpc-tls-key) and TLS to etcd
// (--cluster-etcd-ca, --cluster-etcd-cert, --cluster-etcd-key).
//
// Between members, every node presents its certificate and accepts a peer
// only when the peer's certificate chains to the cluster's CA: a process
// that reaches a node's gRPC port without such a certificate cannot
// heartbeat, forward or replicate. A client also checks that the server's
// certificate names the address it dialled (the peer's --grpc-advertise), as
// any TLS client does. Without the options the links are plaintext, for a
// private network or loopback.
//
// To etcd, the node trusts only the given CA for etcd's server certificate
// (which must name the host of each https:// --cluster-etcd URL), and
// presents its client certificate when given one (etcd's --client-cert-auth).
// Without the options the node reaches etcd in plaintext.
//
// The files are read and checked at start-up (a certificate that does not
// match its key, or is not a certificate, stops the node with a clear message
// instead of failing every handshake later). This module reads and checks;
// cluster-certificates.ts builds the gRPC credentials of both links and reads
// their files again when they are renewed.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, ETCD_TLS_NEEDS_CA, ETCD_TLS_PAIR, GRPC_TLS_TOGETHER } from '../config/options.js';

/** The PEM files of a node's mutual TLS, as given on the command line. */
export interface ClusterTlsFiles {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/** What the channels and the server are built from: the CA's certificates, this node's chain and key (PEM). */
export interface ClusterTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** The PEM files of a node's TLS to etcd, as given on the command line. */
export type EtcdTlsFiles = ClusterTlsFiles;

/** etcd3's `credentials`: the CA of etcd's server certificate, and this node's client chain and key if etcd asks for one (PEM). */
export interface EtcdTls {
  rootCertificate: Buffer;
  certChain?: Buffer;
  privateKey?: Buffer;
}

/** Reads and checks the files; null when none is given (plaintext links). */
export function readClusterTls(files: ClusterTlsFiles): ClusterTls | null {
  const given = [files.ca, files.cert, files.key].filter((f) => f !== null).length;
  if (given === 0) return null;
  if (given !== 3) throw new ConfigError(GRPC_TLS_TOGETHER);
  const ca = readCa(files.ca!, '--grpc-tls-ca');
  const { cert, key } = readPair({ path: files.cert!, flag: '--grpc-tls-cert' }, { path: files.key!, flag: '--grpc-tls-key' });
  return { ca, cert, key };
}

/** Reads and checks the files; null when none is given (plaintext to etcd). */
export function readEtcdTls(files: EtcdTlsFiles): EtcdTls | null {
  if ((files.cert === null) !== (files.key === null)) throw new ConfigError(ETCD_TLS_PAIR);
  if (files.ca === null) {
    if (files.cert !== null) throw new ConfigError(ETCD_TLS_NEEDS_CA);
    return null;
  }
  const rootCertificate = readCa(files.ca, '--cluster-etcd-ca');
  if (files.cert === null) return { rootCertificate };
  const { cert, key } = readPair({ path: files.cert, flag: '--cluster-etcd-cert' }, { path: files.key!, flag: '--cluster-etcd-key' });
  return { rootCertificate, certChain: cert, privateKey: key };
}

/**
 * What a failed TLS handshake with etcd most likely means, from gRPC's
 * message (OpenSSL's and Node's wording), or null when it is no handshake
 * failure: etcd refusing this node's client certificate (it sent an alert),
 * or etcd's certificate failing this node's check.
 */
export function etcdTlsHint(message: string): string | null {
  if (/alert (bad certificate|certificate required|unknown ca|certificate unknown|handshake failure)/i.test(message)) {
    return "etcd refused this node's client certificate, or its lack of one: an etcd with --client-cert-auth takes only one signed by the CA of its --trusted-ca-file, given as --cluster-etcd-cert and --cluster-etcd-key";
  }
  if (/unable to verify|self[- ]signed|ERR_TLS_CERT_ALTNAME_INVALID|certificate has expired|certificate is not yet valid/i.test(message)) {
    return "etcd's certificate failed this node's check: it must be signed by the CA in --cluster-etcd-ca, be valid now, and name the host of the --cluster-etcd URL";
  }
  return null;
}

/** A CA file: readable, and a PEM certificate (the first of a bundle is parsed). */
function readCa(path: string, flag: string): Buffer {
  const ca = readPem(path, flag);
  parseCertificate(ca, flag);
  return ca;
}

/** A certificate (chain) and its key: readable, PEM, and the key is the certificate's. */
function readPair(certFile: { path: string; flag: string }, keyFile: { path: string; flag: string }): { cert: Buffer; key: Buffer } {
  const cert = readPem(certFile.path, certFile.flag);
  const key = readPem(keyFile.path, keyFile.flag);
  const certificate = parseCertificate(cert, certFile.flag);
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(key));
  } catch (err) {
    throw new ConfigError(`${keyFile.flag} must hold a PEM private key: ${(err as Error).message}`);
  }
  if (!matches) throw new ConfigError(`${keyFile.flag} is not the key of the certificate in ${certFile.flag}`);
  return { cert, key };
}

function parseCertificate(pem: Buffer, flag: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(`${flag} must hold a PEM certificate: ${(err as Error).message}`);
  }
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
