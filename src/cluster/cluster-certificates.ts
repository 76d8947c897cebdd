// The certificates of the links between members (--grpc-tls-*), renewed
// without a restart. The node's gRPC server and every channel to a peer take
// them from one ClusterCertificates, gRPC's certificate provider: when the
// files change, the next handshake (a new connection, in either direction)
// uses the new ones, while connections already open keep the session they
// made. Certificate managers (cert-manager, Vault agent, a cron job) replace
// the files in place; the node reads them again every CHECK_INTERVAL_MS and
// on SIGHUP, and takes them only when the three files make a valid set (the
// start-up checks: PEM, the key is the certificate's), so a half-written
// rotation (a new certificate beside the old key) keeps the old set and is
// retried at the next check.

import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { readClusterTls, type ClusterTls, type ClusterTlsFiles } from './transport-security.js';

/** How often the files are read again to look for a renewal. */
export const CHECK_INTERVAL_MS = 60_000;

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** What a reload did: took new files, found them unchanged, or refused them (the old set stays). */
export type ReloadOutcome = { outcome: 'reloaded' | 'unchanged' } | { outcome: 'refused'; reason: string };

export class ClusterCertificates implements grpc.experimental.CertificateProvider {
  readonly #files: ClusterTlsFiles;
  #current: ClusterTls;
  #expiresAt: number;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(files: ClusterTlsFiles, current: ClusterTls) {
    this.#files = files;
    this.#current = current;
    this.#expiresAt = expiryOf(current.cert);
  }

  /** Reads and checks the files (as at start-up); null when none is given (plaintext links). */
  static read(files: ClusterTlsFiles): ClusterCertificates | null {
    const tls = readClusterTls(files);
    return tls === null ? null : new ClusterCertificates(files, tls);
  }

  get current(): ClusterTls {
    return this.#current;
  }

  /** When this node's certificate expires (Unix seconds). */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Reads the files again and, when they changed and make a valid set, hands them to the server and channels. */
  reload(): ReloadOutcome {
    let next: ClusterTls;
    try {
      next = readClusterTls(this.#files)!;
    } catch (err) {
      return { outcome: 'refused', reason: (err as Error).message };
    }
    const same = next.ca.equals(this.#current.ca) && next.cert.equals(this.#current.cert) && next.key.equals(this.#current.key);
    if (same) return { outcome: 'unchanged' };
    this.#current = next;
    this.#expiresAt = expiryOf(next.cert);
    for (const listener of this.#caListeners) listener({ caCertificate: next.ca });
    for (const listener of this.#identityListeners) listener({ certificate: next.cert, privateKey: next.key });
    return { outcome: 'reloaded' };
  }

  // gRPC's CertificateProvider. A new listener hears the current set on the
  // next tick, as grpc-js's own providers do: its server registers for
  // updates only after it read the (then empty) initial options.

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    process.nextTick(() => this.#caListeners.has(listener) && listener({ caCertificate: this.#current.ca }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(() => this.#identityListeners.has(listener) && listener({ certificate: this.#current.cert, privateKey: this.#current.key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/** The gRPC server's credentials: TLS requiring a client certificate from the CA, or plaintext. */
export function serverCredentials(certificates: ClusterCertificates | null): grpc.ServerCredentials {
  if (certificates === null) return grpc.ServerCredentials.createInsecure();
  // One provider as both CA and identity source (grpc-js 1.14 passes the two to its constructor in swapped order).
  return grpc.experimental.createCertificateProviderServerCredentials(certificates, certificates, true);
}

/** A channel's credentials: TLS presenting this node's certificate and trusting only the CA, or plaintext. */
export function channelCredentials(certificates: ClusterCertificates | null): grpc.ChannelCredentials {
  if (certificates === null) return grpc.credentials.createInsecure();
  return grpc.experimental.createCertificateProviderChannelCredentials(certificates, certificates);
}

function expiryOf(chain: Buffer): number {
  return Math.floor(Date.parse(new X509Certificate(chain).validTo) / 1000);
}
