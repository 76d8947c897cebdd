// Mutual TLS between cluster members (--grpc-tls-ca, --grpc-tls-cert,
// --grpc-tls-key). Every node presents its certificate and accepts a peer
// only when the peer's certificate chains to the cluster's CA: a process
// that reaches a node's gRPC port without such a certificate cannot
// heartbeat, forward or replicate. A client also checks that the server's
// certificate names the address it dialled (the peer's --grpc-advertise), as
// any TLS client does. Without the options the links are plaintext, for a
// private network or loopback.
//
// The files are read and checked once at start-up (a certificate that does
// not match its key, or is not a certificate, stops the node with a clear
// message instead of failing every handshake later).

import * as grpc from '@grpc/grpc-js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, GRPC_TLS_TOGETHER } from '../config/options.js';

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

/** Reads and checks the files; null when none is given (plaintext links). */
export function readClusterTls(files: ClusterTlsFiles): ClusterTls | null {
  const given = [files.ca, files.cert, files.key].filter((f) => f !== null).length;
  if (given === 0) return null;
  if (given !== 3) throw new ConfigError(GRPC_TLS_TOGETHER);
  const tls = { ca: readPem(files.ca!, '--grpc-tls-ca'), cert: readPem(files.cert!, '--grpc-tls-cert'), key: readPem(files.key!, '--grpc-tls-key') };
  checkPair(tls);
  return tls;
}

/** Both certificates parse, the key parses, and it is the certificate's. */
function checkPair(tls: ClusterTls): void {
  let certificate: X509Certificate;
  try {
    new X509Certificate(tls.ca); // parsed only to be checked
    certificate = new X509Certificate(tls.cert);
  } catch (err) {
    throw new ConfigError(`--grpc-tls-ca and --grpc-tls-cert must hold PEM certificates: ${(err as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(tls.key));
  } catch (err) {
    throw new ConfigError(`--grpc-tls-key must hold a PEM private key: ${(err as Error).message}`);
  }
  if (!matches) throw new ConfigError('--grpc-tls-key is not the key of the certificate in --grpc-tls-cert');
}

/** The gRPC server's credentials: TLS requiring a client certificate from the CA, or plaintext. */
export function serverCredentials(tls: ClusterTls | null): grpc.ServerCredentials {
  if (tls === null) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], true);
}

/** A channel's credentials: TLS presenting this node's certificate and trusting only the CA, or plaintext. */
export function channelCredentials(tls: ClusterTls | null): grpc.ChannelCredentials {
  if (tls === null) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
