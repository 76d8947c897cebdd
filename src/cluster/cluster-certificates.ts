// The certificates of a cluster node's TLS links, renewed without a
// restart: the links between members (--grpc-tls-*) and the link to etcd
// (--cluster-etcd-*). Each set is one ClusterCertificates, gRPC's certificate
// provider: the node's gRPC server and every channel to a peer take theirs
// from the members' set, etcd's channels from the etcd set; when the files
// change, the next handshake (a new connection, in either direction) uses the
// new ones, while connections already open keep the session they made.
// Certificate managers (cert-manager, Vault agent, a cron job) replace the
// files in place; the node reads them again every CHECK_INTERVAL_MS and on
// SIGHUP, and takes them only when the files make a valid set (the start-up
// checks: PEM, the key is the certificate's), so a half-written rotation (a
// new certificate beside the old key) keeps the old set and is retried at the
// next check.

import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { readClusterTls, readEtcdTls, type ClusterTlsFiles, type EtcdTls, type EtcdTlsFiles } from './transport-security.js';

/** How often the files are read again to look for a renewal. */
export const CHECK_INTERVAL_MS = 60_000;

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** A node's TLS links: between members (--grpc-tls-*) and to etcd (--cluster-etcd-*). */
export const TLS_LINKS = ['peers', 'etcd'] as const;
export type TlsLink = (typeof TLS_LINKS)[number];

/** What a reload did: took new files, found them unchanged, or refused them (the old set stays). */
export type ReloadOutcome = { outcome: 'reloaded' | 'unchanged' } | { outcome: 'refused'; reason: string };

/** A CA and this node's certificate chain and key (PEM); no chain and key where the node presents none (etcd without --cluster-etcd-cert). */
export interface CertificateSet {
  ca: Buffer;
  cert: Buffer | null;
  key: Buffer | null;
}

export class ClusterCertificates implements grpc.experimental.CertificateProvider {
  readonly #read: () => CertificateSet;
  #current: CertificateSet;
  #expiresAt: number | null;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  /** `read`: reads and checks the files (throws what the start-up checks throw); `current`: its first answer. */
  constructor(read: () => CertificateSet, current: CertificateSet) {
    this.#read = read;
    this.#current = current;
    this.#expiresAt = expiryOf(current.cert);
  }

  /** The links between members (--grpc-tls-*): all three files, or null when none is given (plaintext links). */
  static read(files: ClusterTlsFiles): ClusterCertificates | null {
    const read = (): CertificateSet | null => readClusterTls(files);
    const current = read();
    return current === null ? null : new ClusterCertificates(() => read()!, current);
  }

  /** The link to etcd (--cluster-etcd-*): the CA, and the client pair when given; null without a CA (plaintext). */
  static readEtcd(files: EtcdTlsFiles): ClusterCertificates | null {
    const read = (): CertificateSet | null => {
      const tls = readEtcdTls(files);
      return tls === null ? null : { ca: tls.rootCertificate, cert: tls.certChain ?? null, key: tls.privateKey ?? null };
    };
    const current = read();
    return current === null ? null : new ClusterCertificates(() => read()!, current);
  }

  get current(): CertificateSet {
    return this.#current;
  }

  /** When this node's certificate expires (Unix seconds); null when it presents none. */
  get expiresAt(): number | null {
    return this.#expiresAt;
  }

  /** etcd3's `credentials` for the current set. */
  get etcdCredentials(): EtcdTls {
    const { ca, cert, key } = this.#current;
    return { rootCertificate: ca, ...(cert !== null && key !== null ? { certChain: cert, privateKey: key } : {}) };
  }

  /** Reads the files again and, when they changed and make a valid set, hands them to the server and channels. */
  reload(): ReloadOutcome {
    let next: CertificateSet;
    try {
      next = this.#read();
    } catch (err) {
      return { outcome: 'refused', reason: (err as Error).message };
    }
    if (sameSet(next, this.#current)) return { outcome: 'unchanged' };
    this.#current = next;
    this.#expiresAt = expiryOf(next.cert);
    for (const listener of this.#caListeners) listener({ caCertificate: next.ca });
    if (next.cert !== null && next.key !== null) for (const listener of this.#identityListeners) listener({ certificate: next.cert, privateKey: next.key });
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
    process.nextTick(() => {
      const { cert, key } = this.#current;
      if (this.#identityListeners.has(listener) && cert !== null && key !== null) listener({ certificate: cert, privateKey: key });
    });
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

/** A channel's credentials: TLS trusting only the CA and presenting this node's certificate (if the set has one), or plaintext. */
export function channelCredentials(certificates: ClusterCertificates | null): grpc.ChannelCredentials {
  if (certificates === null) return grpc.credentials.createInsecure();
  return grpc.experimental.createCertificateProviderChannelCredentials(certificates, certificates.current.cert !== null ? certificates : null);
}

function sameSet(a: CertificateSet, b: CertificateSet): boolean {
  const same = (x: Buffer | null, y: Buffer | null): boolean => (x === null || y === null ? x === y : x.equals(y));
  return same(a.ca, b.ca) && same(a.cert, b.cert) && same(a.key, b.key);
}

function expiryOf(chain: Buffer | null): number | null {
  return chain === null ? null : Math.floor(Date.parse(new X509Certificate(chain).validTo) / 1000);
}
