// Options of the http-* scenarios. The runner (bench/run.ts) accepts the
// flags listed here (`--flag value` or `--flag=value`) and hands them over
// raw; each scenario parses them with its quick flag, because the defaults of
// --duration and --users depend on it.
//
// Without --target the scenarios start their own sessiond node (and their
// baselines) on this machine; with --target they drive an external
// Keycloak-compatible server, which must already hold the realm, a
// confidential client (direct access grants and service accounts enabled)
// and users `${usersPrefix}0 .. ${usersPrefix}${users-1}` sharing one password.

import type { SignatureAlgorithm } from '../../src/realm/model.js';

export interface HttpOptions {
  /** Base URL of an external server (`http://host:8080`, or `.../auth` for old Keycloak), or null: start a local node. */
  target: string | null;
  /** Realm to drive; null: the scenario's own generated realm(s). Required with --target. */
  realm: string | null;
  client: string;
  secret: string;
  usersPrefix: string;
  password: string;
  connections: number;
  /** Seconds of each measured run. */
  duration: number;
  users: number;
  /** PBKDF2 iterations of the generated realm's credentials; null: the scenario's default. */
  hashIterations: number | null;
  /** Signature algorithm of the generated realm; null: the scenario's default. */
  algorithm: SignatureAlgorithm | null;
  /** Directory for CPU profiles of the local server processes (node --cpu-prof), or null. */
  cpuProf: string | null;
}

interface FlagSpec {
  flag: string;
  key: keyof HttpOptions;
  kind: 'url' | 'string' | 'count' | 'algorithm';
  describe: string;
}

export const HTTP_FLAGS: readonly FlagSpec[] = Object.freeze([
  { flag: '--target', key: 'target', kind: 'url', describe: 'drive an external server at this base URL instead of a local node' },
  { flag: '--realm', key: 'realm', kind: 'string', describe: 'realm name (required with --target)' },
  { flag: '--client', key: 'client', kind: 'string', describe: 'confidential client id (default bench-client)' },
  { flag: '--secret', key: 'secret', kind: 'string', describe: 'its client secret (default bench-secret)' },
  { flag: '--users-prefix', key: 'usersPrefix', kind: 'string', describe: 'usernames are <prefix><i> (default bench-user-)' },
  { flag: '--password-of-users', key: 'password', kind: 'string', describe: 'the one password of every user (default bench-password)' },
  { flag: '--connections', key: 'connections', kind: 'count', describe: 'concurrent connections (default 50)' },
  { flag: '--duration', key: 'duration', kind: 'count', describe: 'seconds per measured run (default 10, quick 3)' },
  { flag: '--users', key: 'users', kind: 'count', describe: 'users (and pooled sessions) (default 1000, quick 200)' },
  { flag: '--hash-iterations', key: 'hashIterations', kind: 'count', describe: 'PBKDF2 iterations of the generated users (default: http-password 210000, others 1000)' },
  { flag: '--algorithm', key: 'algorithm', kind: 'algorithm', describe: 'realm signature algorithm, local node (default ES256; http-refresh runs ES256 and RS256)' },
  { flag: '--cpu-prof', key: 'cpuProf', kind: 'string', describe: 'write CPU profiles of the local server processes to this directory' },
]);

export const HTTP_FLAG_NAMES: ReadonlySet<string> = new Set(HTTP_FLAGS.map((f) => f.flag));

const DEFAULTS = {
  client: 'bench-client',
  secret: 'bench-secret',
  usersPrefix: 'bench-user-',
  password: 'bench-password',
  connections: 50,
  duration: 10,
  durationQuick: 3,
  users: 1000,
  usersQuick: 200,
};

export class HttpOptionError extends Error {}

export function parseHttpOptions(flags: Readonly<Record<string, string>>, quick: boolean): HttpOptions {
  const out: HttpOptions = {
    target: null,
    realm: null,
    client: DEFAULTS.client,
    secret: DEFAULTS.secret,
    usersPrefix: DEFAULTS.usersPrefix,
    password: DEFAULTS.password,
    connections: DEFAULTS.connections,
    duration: quick ? DEFAULTS.durationQuick : DEFAULTS.duration,
    users: quick ? DEFAULTS.usersQuick : DEFAULTS.users,
    hashIterations: null,
    algorithm: null,
    cpuProf: null,
  };
  const set = out as unknown as Record<string, unknown>;
  for (const spec of HTTP_FLAGS) {
    const raw = flags[spec.flag];
    if (raw === undefined) continue;
    switch (spec.kind) {
      case 'url': {
        let url: URL;
        try {
          url = new URL(raw);
        } catch {
          throw new HttpOptionError(`${spec.flag} ${JSON.stringify(raw)}: expected an absolute http(s) URL`);
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HttpOptionError(`${spec.flag}: expected http or https`);
        set[spec.key] = raw.replace(/\/+$/, '');
        break;
      }
      case 'count': {
        if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new HttpOptionError(`${spec.flag} ${JSON.stringify(raw)}: expected a positive integer`);
        set[spec.key] = Number(raw);
        break;
      }
      case 'algorithm':
        if (raw !== 'ES256' && raw !== 'RS256' && raw !== 'EdDSA') throw new HttpOptionError(`${spec.flag}: expected ES256, RS256 or EdDSA`);
        set[spec.key] = raw;
        break;
      default:
        if (raw === '') throw new HttpOptionError(`${spec.flag} must not be empty`);
        set[spec.key] = raw;
    }
  }
  if (out.target !== null && out.realm === null) throw new HttpOptionError('--target needs --realm');
  return out;
}

export function httpUsage(): string {
  const width = Math.max(...HTTP_FLAGS.map((f) => f.flag.length)) + 8;
  return ['http-* scenario options:', ...HTTP_FLAGS.map((f) => `  ${`${f.flag} <v>`.padEnd(width)}${f.describe}`)].join('\n');
}
