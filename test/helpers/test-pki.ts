// Certificates for tests of mutual TLS, made by the `openssl` command line
// (Debian's openssl package) in a temporary directory: a CA, and node
// certificates it signs for given IP addresses (P-256 keys, valid two days,
// usable as server and as client).

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The PEM files of one node: the CA that signed it, its certificate and key. */
export interface NodePki {
  ca: string;
  cert: string;
  key: string;
}

export interface TestCa {
  /** The CA certificate's file. */
  ca: string;
  /** A certificate this CA signs, naming `ips` (its files written under the CA's directory as `name.*`). */
  issue(name: string, ips: readonly string[]): NodePki;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A fresh CA whose files live in `dir` (named after `name`, so several CAs can share it). */
export function testCa(dir: string, name = 'ca'): TestCa {
  const ca = join(dir, `${name}.pem`);
  const caKey = join(dir, `${name}.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2',
    '-subj', `/CN=sessiond test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return {
    ca,
    issue(node, ips) {
      const key = join(dir, `${name}-${node}.key`);
      const csr = join(dir, `${name}-${node}.csr`);
      const cert = join(dir, `${name}-${node}.pem`);
      const ext = join(dir, `${name}-${node}.ext`);
      writeFileSync(ext, `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${node}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
      return { ca, cert, key };
    },
  };
}
