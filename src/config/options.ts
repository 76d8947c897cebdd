// Every option of a sessiond node: one table, from which the parser, the
// validation, `--help` and docs/configuration.md's list are all derived. Each
// option is a flag and an environment variable (`--http-port` ↔
// SESSIOND_HTTP_PORT); a flag wins over the variable, the variable over the
// default. Invalid values fail the start with one line naming the option.

import { availableParallelism } from 'node:os';
import { IDLE_GRACE_DEFAULT_S } from '../constants.js';
import { parseCidr } from '../util/ip-address.js';

export interface NodeOptions {
  httpPort: number;
  managementPort: number;
  host: string;
  dataDir: string;
  importRealm: string | null;
  shards: number;
  idleGraceSeconds: number;
  offlineCacheEntries: number;
  durability: 'journal' | 'snapshot';
  hostname: string | null;
  nodeId: string;
  // --- cluster (docs/cluster.md); without clusterEtcd the node runs alone ---
  clusterEtcd: string[];
  clusterName: string;
  clusterEtcdCa: string | null;
  clusterEtcdCert: string | null;
  clusterEtcdKey: string | null;
  grpcPort: number;
  grpcAdvertise: string | null;
  grpcTlsCa: string | null;
  grpcTlsCert: string | null;
  grpcTlsKey: string | null;
  owners: number;
  zone: string | null;
  touchReplicationIntervalMs: number;
  copyCheckPeriodSeconds: number;
  replicateTimeoutMs: number;
  /** On SIGTERM, how long the node keeps serving with readiness DOWN before it stops taking requests. */
  shutdownDelayMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logFormat: 'json' | 'pretty';
  accessLog: boolean;
  // --- reverse proxies and hostnames (Keycloak 25+'s options) ---
  proxyHeaders: 'none' | 'forwarded' | 'xforwarded';
  proxyTrustedAddresses: string[];
  hostnameAdmin: string | null;
  hostnameStrict: boolean;
  // --- login admission per client address ---
  loginRateLimit: number;
  loginRateWindowSeconds: number;
}

type Kind = 'port' | 'string' | 'label' | 'path' | 'count' | 'seconds' | 'millis' | 'url' | 'urls' | 'address' | 'level' | 'choice' | 'switch' | 'proxy-headers' | 'cidrs' | 'boolean';

interface OptionSpec {
  key: keyof NodeOptions;
  flag: string;
  kind: Kind;
  /** Shown in --help and docs; a function for defaults computed at start. */
  defaultValue: () => NodeOptions[keyof NodeOptions];
  describe: string;
  min?: number;
  max?: number;
  /** The values a 'choice' option accepts. */
  choices?: readonly string[];
}


/** A zone's name: what operators call racks and zones (`eu-west-1a`, `rack_12`). */
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;
const PROXY_HEADERS = ['none', 'forwarded', 'xforwarded'] as const;

/** Shards: one per core, as the shards and the main thread share the cores anyway. */
export function defaultShards(): number {
  return Math.max(1, availableParallelism());
}

export const OPTION_SPECS: readonly OptionSpec[] = Object.freeze([
  { key: 'httpPort', flag: '--http-port', kind: 'port', defaultValue: () => 8080, describe: 'public HTTP port (OIDC and admin endpoints)' },
  { key: 'managementPort', flag: '--management-port', kind: 'port', defaultValue: () => 9000, describe: 'management HTTP port (/health/live, /health/ready, /metrics)' },
  { key: 'host', flag: '--host', kind: 'string', defaultValue: () => '127.0.0.1', describe: 'address both HTTP servers bind to' },
  { key: 'dataDir', flag: '--data-dir', kind: 'path', defaultValue: () => './data', describe: 'directory of the LMDB environment' },
  { key: 'importRealm', flag: '--import-realm', kind: 'path', defaultValue: () => null, describe: 'directory of Keycloak realm-representation JSON files, imported when the realm is absent' },
  { key: 'shards', flag: '--shards', kind: 'count', defaultValue: defaultShards, min: 1, max: 256, describe: 'shard worker threads (session actors); default: one per core' },
  { key: 'idleGraceSeconds', flag: '--idle-grace-seconds', kind: 'seconds', defaultValue: () => IDLE_GRACE_DEFAULT_S, min: 0, max: 86_400, describe: "idle grace window added to idle checks (Keycloak's volatile mode: 120; 0 = Keycloak 26 persistent-mode strictness)" },
  { key: 'offlineCacheEntries', flag: '--offline-cache-entries', kind: 'count', defaultValue: () => 10_000, min: 0, max: 100_000_000, describe: 'offline sessions kept in memory per node (LRU over LMDB)' },
  { key: 'durability', flag: '--durability', kind: 'choice', choices: ['journal', 'snapshot'], defaultValue: () => 'journal', describe: 'online sessions on disk: journal (every answered login, logout and rotation survives a kill -9) or snapshot (written at graceful shutdown only)' },
  { key: 'hostname', flag: '--hostname', kind: 'url', defaultValue: () => null, describe: 'public base URL used in token issuers (default: taken from each request)' },
  { key: 'nodeId', flag: '--node-id', kind: 'string', defaultValue: () => 'node-1', describe: 'this node\'s name: the `node` field of every log line, and its stable identity in a cluster (unique, kept with the data directory)' },
  { key: 'clusterEtcd', flag: '--cluster-etcd', kind: 'urls', defaultValue: () => [], describe: 'etcd v3 endpoints, comma-separated: switches cluster mode on (empty: a single node)' },
  { key: 'clusterName', flag: '--cluster-name', kind: 'string', defaultValue: () => 'sessiond', describe: 'the cluster this node joins: its keys in etcd live under /<name>/' },
  { key: 'clusterEtcdCa', flag: '--cluster-etcd-ca', kind: 'path', defaultValue: () => null, describe: 'PEM file of the CA that signs etcd\'s server certificate: the node reaches etcd over TLS, and every --cluster-etcd URL must be https:// (cluster mode only)' },
  { key: 'clusterEtcdCert', flag: '--cluster-etcd-cert', kind: 'path', defaultValue: () => null, describe: 'PEM file of this node\'s client certificate (chain) for etcd\'s --client-cert-auth; with --cluster-etcd-key, needs --cluster-etcd-ca' },
  { key: 'clusterEtcdKey', flag: '--cluster-etcd-key', kind: 'path', defaultValue: () => null, describe: 'PEM file of the private key of --cluster-etcd-cert' },
  { key: 'grpcPort', flag: '--grpc-port', kind: 'port', defaultValue: () => 50051, describe: 'cluster gRPC port (node-to-node traffic; cluster mode only)' },
  { key: 'grpcAdvertise', flag: '--grpc-advertise', kind: 'address', defaultValue: () => null, describe: 'host:port other nodes dial to reach this node (default: --host:--grpc-port)' },
  { key: 'grpcTlsCa', flag: '--grpc-tls-ca', kind: 'path', defaultValue: () => null, describe: 'PEM file of the CA that signs every node\'s certificate: with --grpc-tls-cert and --grpc-tls-key, nodes talk over mutual TLS (cluster mode only)' },
  { key: 'grpcTlsCert', flag: '--grpc-tls-cert', kind: 'path', defaultValue: () => null, describe: 'PEM file of this node\'s certificate (chain), naming the host of its --grpc-advertise address' },
  { key: 'grpcTlsKey', flag: '--grpc-tls-key', kind: 'path', defaultValue: () => null, describe: 'PEM file of the private key of --grpc-tls-cert' },
  { key: 'owners', flag: '--owners', kind: 'count', defaultValue: () => 2, min: 1, max: 16, describe: 'copies of each partition in a cluster (the first is the primary)' },
  { key: 'zone', flag: '--zone', kind: 'label', defaultValue: () => null, describe: 'this node\'s zone (rack, availability zone): a partition\'s copies go to nodes of different zones while there are enough (cluster mode only)' },
  { key: 'touchReplicationIntervalMs', flag: '--touch-replication-interval', kind: 'millis', defaultValue: () => 1000, min: 50, max: 60_000, describe: 'how often idle-clock moves are shipped to backups, in ms; a move longer than this is shipped at once (they never delay an answer)' },
  { key: 'copyCheckPeriodSeconds', flag: '--copy-check-period', kind: 'seconds', defaultValue: () => 300, min: 0, max: 86_400, describe: 'how often each partition\'s backup copies are compared with their primary\'s, in seconds (a copy that differs is sent its partition again); 0 = never' },
  { key: 'replicateTimeoutMs', flag: '--replicate-timeout', kind: 'millis', defaultValue: () => 1000, min: 100, max: 60_000, describe: 'how long a backup may acknowledge nothing while frames wait for it, in ms, before it is accused (the writes waiting for it fail after 3x this)' },
  { key: 'shutdownDelayMs', flag: '--shutdown-delay', kind: 'millis', defaultValue: () => 1000, min: 0, max: 600_000, describe: 'on SIGTERM, how long the node keeps serving with /health/ready DOWN (answers carry Connection: close) before it stops taking requests, in ms: set it to the time your load balancer takes to notice' },
  { key: 'logLevel', flag: '--log-level', kind: 'level', defaultValue: () => 'info', describe: `log level: ${LOG_LEVELS.join(', ')}` },
  { key: 'logFormat', flag: '--log-format', kind: 'choice', choices: LOG_FORMATS, defaultValue: () => 'json', describe: 'json (one JSON object per line, for log collectors) or pretty (coloured lines for a terminal, by pino-pretty)' },
  { key: 'accessLog', flag: '--access-log', kind: 'switch', defaultValue: () => false, describe: 'log one line per public HTTP request (secrets and tokens redacted); a bare flag means true' },
  // --- reverse proxies and hostnames (Keycloak 25+'s options) ---
  { key: 'proxyHeaders', flag: '--proxy-headers', kind: 'proxy-headers', defaultValue: () => 'none', describe: 'client address, scheme and host from a reverse proxy\'s headers: none, forwarded (RFC 7239 Forwarded) or xforwarded (X-Forwarded-For/-Proto/-Host)' },
  { key: 'proxyTrustedAddresses', flag: '--proxy-trusted-addresses', kind: 'cidrs', defaultValue: () => [], describe: 'proxy headers are believed only from these addresses/CIDRs, comma-separated (empty: from any sender)' },
  { key: 'hostnameAdmin', flag: '--hostname-admin', kind: 'url', defaultValue: () => null, describe: 'public base URL of the admin API, when it is reached through another address than --hostname' },
  { key: 'hostnameStrict', flag: '--hostname-strict', kind: 'boolean', defaultValue: () => false, describe: 'refuse to start without --hostname (issuers never follow a request\'s Host header)' },
  // --- login admission per client address ---
  { key: 'loginRateLimit', flag: '--login-rate-limit', kind: 'count', defaultValue: () => 50, min: 0, max: 1_000_000, describe: 'login attempts (password grants, login-form posts) one client address may make per window; 0 = no limit' },
  { key: 'loginRateWindowSeconds', flag: '--login-rate-window-seconds', kind: 'seconds', defaultValue: () => 10, min: 1, max: 3600, describe: 'the window of --login-rate-limit' },
]);

const SWITCH_VALUES: Readonly<Record<string, boolean>> = { true: true, false: false };

export function envName(flag: string): string {
  return `SESSIOND_${flag.slice(2).toUpperCase().replaceAll('-', '_')}`;
}

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export class ConfigError extends Error {
  readonly code = 'ERR_INVALID_OPTION';
}

function convert(spec: OptionSpec, raw: string, source: string): NodeOptions[keyof NodeOptions] {
  const fail = (rule: string): never => {
    throw new ConfigError(`invalid ${source} ${JSON.stringify(raw)}: ${rule}`);
  };
  switch (spec.kind) {
    case 'port': {
      if (!/^\d+$/.test(raw)) fail('expected a port number 0-65535');
      const port = Number(raw);
      if (port > 65535) fail('expected a port number 0-65535');
      return port;
    }
    case 'count':
    case 'seconds':
    case 'millis': {
      if (!/^\d+$/.test(raw)) fail(`expected an integer${spec.kind === 'seconds' ? ' (seconds)' : spec.kind === 'millis' ? ' (milliseconds)' : ''}`);
      const value = Number(raw);
      if (spec.min !== undefined && value < spec.min) fail(`must be at least ${spec.min}`);
      if (spec.max !== undefined && value > spec.max) fail(`must be at most ${spec.max}`);
      return value;
    }
    case 'string':
    case 'path':
      if (raw.trim() === '') fail('must not be empty');
      return raw;
    case 'label':
      if (!LABEL.test(raw)) fail('expected 1 to 63 letters, digits, dots, dashes or underscores, starting with a letter or digit');
      return raw;
    case 'url':
      if (!isHttpUrl(raw)) fail('expected an absolute http(s) URL');
      return raw.replace(/\/+$/, '');
    case 'urls': {
      if (raw.trim() === '') return [];
      const urls = raw.split(',').map((u) => u.trim());
      for (const url of urls) if (!isHttpUrl(url)) fail(`${JSON.stringify(url)} is not an http(s) URL`);
      return urls;
    }
    case 'address': {
      const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
      if (match === null || Number(match[2]) > 65535 || Number(match[2]) === 0) fail('expected host:port');
      return raw.trim();
    }
    case 'level':
      if (!(LOG_LEVELS as readonly string[]).includes(raw)) fail(`expected one of ${LOG_LEVELS.join(', ')}`);
      return raw as NodeOptions['logLevel'];
    case 'choice':
      if (!spec.choices!.includes(raw)) fail(`expected one of ${spec.choices!.join(', ')}`);
      return raw as NodeOptions[keyof NodeOptions];
    case 'switch':
      if (!Object.hasOwn(SWITCH_VALUES, raw)) fail('expected true or false');
      return SWITCH_VALUES[raw]!;
    case 'proxy-headers':
      if (!(PROXY_HEADERS as readonly string[]).includes(raw)) fail(`expected one of ${PROXY_HEADERS.join(', ')}`);
      return raw as NodeOptions['proxyHeaders'];
    case 'cidrs': {
      if (raw.trim() === '') return [];
      const cidrs = raw.split(',').map((c) => c.trim());
      for (const cidr of cidrs) if (parseCidr(cidr) === null) fail(`${JSON.stringify(cidr)} is not an IP address or CIDR block`);
      return cidrs;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') fail('expected true or false');
      return raw === 'true';
  }
}

export type ParseResult = { help: true } | { help: false; options: NodeOptions };


/** Parses flags (`--x value` or `--x=value`) over environment variables over defaults. */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const byFlag = new Map(OPTION_SPECS.map((s) => [s.flag, s]));
  const fromFlags = new Map<keyof NodeOptions, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const spec = byFlag.get(flag);
    if (spec === undefined) throw new ConfigError(`unknown option ${flag} (see --help)`);
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'switch') {
      // A switch stands alone (`--access-log`) or takes `=true|false`; it never eats the next argument.
      value = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new ConfigError(`option ${flag} needs a value`);
      value = next;
      i++;
    }
    fromFlags.set(spec.key, value);
  }
  const options: Record<string, unknown> = {};
  for (const spec of OPTION_SPECS) {
    const flagValue = fromFlags.get(spec.key);
    const envValue = env[envName(spec.flag)];
    if (flagValue !== undefined) options[spec.key] = convert(spec, flagValue, spec.flag);
    else if (envValue !== undefined && envValue !== '') options[spec.key] = convert(spec, envValue, envName(spec.flag));
    else options[spec.key] = spec.defaultValue();
  }
  const result = options as unknown as NodeOptions;
  const ports = OPTION_SPECS
    .filter((s) => s.kind === 'port')
    .map((s) => [s.flag, result[s.key] as number] as const);
  for (let a = 0; a < ports.length; a++) {
    for (let b = a + 1; b < ports.length; b++) {
      if (ports[a]![1] !== 0 && ports[a]![1] === ports[b]![1]) {
        throw new ConfigError(`${ports[a]![0]} and ${ports[b]![0]} are both ${ports[a]![1]}: each needs its own port`);
      }
    }
  }
  if (result.hostnameStrict && result.hostname === null) {
    throw new ConfigError('--hostname-strict is true but --hostname is not set: set the public base URL, or --hostname-strict false');
  }
  if (result.hostnameAdmin !== null && result.hostname === null) {
    throw new ConfigError('--hostname-admin is set but --hostname is not: set both (the admin address is an alternative to the public one)');
  }
  if (result.clusterEtcd.length > 0 && result.hostname === null) {
    throw new ConfigError('--cluster-etcd is set but --hostname is not: every node of a cluster must issue tokens under the same public URL');
  }
  const tlsGiven = [result.grpcTlsCa, result.grpcTlsCert, result.grpcTlsKey].filter((f) => f !== null).length;
  if (tlsGiven > 0 && result.clusterEtcd.length === 0) {
    throw new ConfigError('--grpc-tls-ca, --grpc-tls-cert and --grpc-tls-key secure the links between cluster nodes: they need --cluster-etcd');
  }
  if (tlsGiven > 0 && tlsGiven < 3) throw new ConfigError(GRPC_TLS_TOGETHER);
  if (result.zone !== null && result.clusterEtcd.length === 0) {
    throw new ConfigError('--zone places copies of partitions across the zones of a cluster: it needs --cluster-etcd');
  }
  checkEtcdTls(result);
  return { help: false, options: result };
}

/**
 * TLS to etcd: the options need cluster mode, the client certificate and key
 * go together and need the CA, and the CA and https:// URLs go together (a CA
 * with an http:// URL would leave that connection plaintext; an https:// URL
 * without a CA would leave the node no CA to check etcd's certificate with).
 */
function checkEtcdTls(options: NodeOptions): void {
  const given = [options.clusterEtcdCa, options.clusterEtcdCert, options.clusterEtcdKey].some((f) => f !== null);
  if (given && options.clusterEtcd.length === 0) {
    throw new ConfigError('--cluster-etcd-ca, --cluster-etcd-cert and --cluster-etcd-key secure the connection to etcd: they need --cluster-etcd');
  }
  if ((options.clusterEtcdCert === null) !== (options.clusterEtcdKey === null)) throw new ConfigError(ETCD_TLS_PAIR);
  if (options.clusterEtcdCert !== null && options.clusterEtcdCa === null) throw new ConfigError(ETCD_TLS_NEEDS_CA);
  const tls = options.clusterEtcdCa !== null;
  const mismatched = options.clusterEtcd.find((url) => (new URL(url).protocol === 'https:') !== tls);
  if (mismatched === undefined) return;
  throw new ConfigError(
    tls
      ? `--cluster-etcd ${mismatched}: --cluster-etcd-ca turns on TLS to etcd, so every --cluster-etcd URL must be https://`
      : `--cluster-etcd ${mismatched}: an https:// URL needs --cluster-etcd-ca, the CA that signs etcd's server certificate (or use http:// for plaintext)`,
  );
}

/** The client certificate for etcd comes with its key. */
export const ETCD_TLS_PAIR = '--cluster-etcd-cert and --cluster-etcd-key go together: give both (a client certificate for etcd) or neither';
/** A client certificate for etcd is presented over TLS only. */
export const ETCD_TLS_NEEDS_CA = '--cluster-etcd-cert and --cluster-etcd-key need --cluster-etcd-ca (the CA that signs etcd\'s server certificate): a client certificate is presented over TLS only';

/** The mutual-TLS files of the cluster's links are all given or none is. */
export const GRPC_TLS_TOGETHER = '--grpc-tls-ca, --grpc-tls-cert and --grpc-tls-key go together: give all three (mutual TLS between nodes) or none';

/** Whether these options run the node as a cluster member. */
export function clusterMode(options: NodeOptions): boolean {
  return options.clusterEtcd.length > 0;
}

export function helpText(): string {
  const lines = [
    'Usage: npm start -- [options]      (or: node dist/src/main.js [options])',
    '',
    'sessiond: an in-memory single-sign-on session engine speaking Keycloak\'s protocols (one node, or a cluster with --cluster-etcd: docs/cluster.md).',
    'Every option is also an environment variable (--http-port <-> SESSIOND_HTTP_PORT); flags win.',
    '',
    'Options:',
  ];
  for (const spec of OPTION_SPECS) {
    const def = spec.defaultValue();
    const shown = def === null ? 'none' : Array.isArray(def) ? (def.length === 0 ? 'none' : def.join(',')) : String(def);
    lines.push(`  ${(spec.kind === 'switch' ? `${spec.flag}[=true|false]` : `${spec.flag} <value>`).padEnd(32)}${spec.describe}`);
    lines.push(`  ${''.padEnd(32)}env ${envName(spec.flag)}, default ${shown}`);
  }
  lines.push('  --help'.padEnd(34) + 'print this help and exit');
  lines.push('');
  lines.push('Environment only:');
  lines.push('  SESSIOND_BOOTSTRAP_ADMIN_USERNAME / SESSIOND_BOOTSTRAP_ADMIN_PASSWORD   master-realm admin (default admin/admin)');
  lines.push('');
  lines.push('Invalid configuration exits with status 2 and one line naming the option.');
  lines.push('Documentation: README.md and docs/configuration.md.');
  return lines.join('\n');
}
