// Goal: every option is a flag and an environment variable with a default;
// flags win over variables, variables over defaults; every invalid value is
// refused with a ConfigError (code ERR_INVALID_OPTION) whose one-line message
// names the option; --help lists every option. Method: parseOptions() on
// argument and environment tables.

import test, { type ExecutionContext } from 'ava';
import { ConfigError, OPTION_SPECS, clusterMode, defaultShards, envName, helpText, parseOptions, type NodeOptions } from '../../src/config/options.js';

function parse(argv: string[], env: Record<string, string> = {}): NodeOptions {
  const result = parseOptions(argv, env);
  if (result.help) throw new Error('unexpected help');
  return result.options;
}

function refused(t: ExecutionContext, argv: string[], env: Record<string, string>, names: string): void {
  const err = t.throws(() => parseOptions(argv, env), { instanceOf: ConfigError }, `${argv.join(' ')} ${JSON.stringify(env)}`);
  if (err === undefined) return;
  t.is(err.code, 'ERR_INVALID_OPTION');
  t.true(err.message.includes(names), `"${err.message}" names ${names}`);
  t.false(err.message.includes('\n'), 'one line');
}

test('defaults match the documented ones', (t) => {
  t.deepEqual(parse([]), {
    httpPort: 8080,
    managementPort: 9000,
    host: '127.0.0.1',
    dataDir: './data',
    importRealm: null,
    shards: defaultShards(),
    idleGraceSeconds: 120,
    offlineCacheEntries: 10000,
    durability: 'journal',
    hostname: null,
    nodeId: 'node-1',
    clusterEtcd: [],
    clusterName: 'sessiond',
    clusterEtcdCa: null,
    clusterEtcdCert: null,
    clusterEtcdKey: null,
    grpcPort: 50051,
    grpcAdvertise: null,
    grpcTlsCa: null,
    grpcTlsCert: null,
    grpcTlsKey: null,
    owners: 2,
    zone: null,
    touchReplicationIntervalMs: 1000,
    copyCheckPeriodSeconds: 300,
    replicateTimeoutMs: 1000,
    shutdownDelayMs: 1000,
    logLevel: 'info',
    logFormat: 'json',
    accessLog: false,
    proxyHeaders: 'none',
    proxyTrustedAddresses: [],
    hostnameAdmin: null,
    hostnameStrict: false,
    loginRateLimit: 50,
    loginRateWindowSeconds: 10,
  });
  t.true(defaultShards() >= 1);
});

test('every option is a flag and a SESSIOND_ variable', (t) => {
  t.is(envName('--http-port'), 'SESSIOND_HTTP_PORT');
  t.is(envName('--idle-grace-seconds'), 'SESSIOND_IDLE_GRACE_SECONDS');
  const flags = OPTION_SPECS.map((s) => s.flag);
  t.is(new Set(flags).size, flags.length);
  for (const flag of ['--http-port', '--management-port', '--host', '--data-dir', '--import-realm', '--shards', '--idle-grace-seconds', '--offline-cache-entries', '--hostname', '--node-id', '--log-level', '--log-format']) {
    t.true(flags.includes(flag), flag);
  }
});

test('--access-log is a switch: bare, =true|false, or its variable', (t) => {
  t.true(parse(['--access-log']).accessLog);
  t.true(parse(['--access-log', '--shards', '3']).accessLog);
  t.is(parse(['--access-log', '--shards', '3']).shards, 3);
  t.false(parse(['--access-log=false']).accessLog);
  t.true(parse([], { SESSIOND_ACCESS_LOG: 'true' }).accessLog);
  t.false(parse(['--access-log=false'], { SESSIOND_ACCESS_LOG: 'true' }).accessLog);
  const err = t.throws(() => parse(['--access-log=yes']), { instanceOf: ConfigError });
  t.is(err?.message, 'invalid --access-log "yes": expected true or false');
  t.throws(() => parse([], { SESSIOND_ACCESS_LOG: 'toString' }), { instanceOf: ConfigError });
});

test('flags (both spellings) win over variables, variables over defaults', (t) => {
  const env = { SESSIOND_HTTP_PORT: '8081', SESSIOND_SHARDS: '3', SESSIOND_LOG_LEVEL: 'debug' };
  const o = parse(['--http-port', '8082', '--shards=4'], env);
  t.is(o.httpPort, 8082);
  t.is(o.shards, 4);
  t.is(o.logLevel, 'debug');
  t.is(parse([], { SESSIOND_IDLE_GRACE_SECONDS: '0' }).idleGraceSeconds, 0);
  t.is(parse([], { SESSIOND_SHARDS: '' }).shards, defaultShards(), 'an empty variable is unset');
  t.is(parse(['--shards', '1', '--shards', '2']).shards, 2, 'the last flag wins');
});

test('values are converted: ports, counts, paths, URLs, peers, levels', (t) => {
  const o = parse([
    '--host', '0.0.0.0', '--data-dir', '/var/lib/sessiond', '--import-realm', './realms', '--hostname', 'https://sso.example.com/',
    '--node-id', 'n-2', '--offline-cache-entries', '0',
    '--management-port', '0', '--log-level', 'silent', '--idle-grace-seconds', '86400', '--log-format', 'pretty',
  ]);
  t.is(o.host, '0.0.0.0');
  t.is(o.dataDir, '/var/lib/sessiond');
  t.is(o.importRealm, './realms');
  t.is(o.hostname, 'https://sso.example.com', 'trailing slash removed');
  t.is(o.nodeId, 'n-2');
  t.is(o.offlineCacheEntries, 0);
  t.is(o.managementPort, 0);
  t.is(o.logLevel, 'silent');
  t.is(o.idleGraceSeconds, 86400);
  t.is(o.logFormat, 'pretty');
});

test('invalid values are refused naming the option', (t) => {
  refused(t, ['--http-port', 'abc'], {}, '--http-port');
  refused(t, ['--http-port', '65536'], {}, '--http-port');
  refused(t, ['--http-port', '-1'], {}, '--http-port');
  refused(t, ['--shards', '0'], {}, '--shards');
  refused(t, ['--shards', '257'], {}, '--shards');
  refused(t, ['--shards', 'two'], {}, '--shards');
  refused(t, ['--idle-grace-seconds', '-5'], {}, '--idle-grace-seconds');
  refused(t, ['--idle-grace-seconds', '86401'], {}, '--idle-grace-seconds');
  refused(t, ['--durability', 'fsync'], {}, '--durability');
  refused(t, ['--hostname', 'sso.example.com'], {}, '--hostname');
  refused(t, ['--hostname', 'ftp://sso.example.com'], {}, '--hostname');
  refused(t, ['--log-format', 'xml'], {}, '--log-format');
  refused(t, ['--log-level', 'loud'], {}, '--log-level');
  refused(t, ['--data-dir', '  '], {}, '--data-dir');
  refused(t, ['--node-id='], {}, '--node-id');
  refused(t, [], { SESSIOND_SHARDS: 'x' }, 'SESSIOND_SHARDS');
  refused(t, [], { SESSIOND_MANAGEMENT_PORT: '99999' }, 'SESSIOND_MANAGEMENT_PORT');
  refused(t, ['--proxy-headers', 'yes'], {}, '--proxy-headers');
  refused(t, ['--proxy-trusted-addresses', '10.0.0.0/33'], {}, '--proxy-trusted-addresses');
  refused(t, ['--proxy-trusted-addresses', '10.0.0.1,balancer'], {}, '--proxy-trusted-addresses');
  refused(t, ['--hostname-strict', 'yes'], {}, '--hostname-strict');
  refused(t, ['--hostname-strict', 'true'], {}, '--hostname-strict');
  refused(t, ['--hostname-admin', 'https://admin.example'], {}, '--hostname-admin');
});

test('proxy and hostname options', (t) => {
  const o = parse([
    '--proxy-headers', 'forwarded', '--proxy-trusted-addresses', '10.0.0.0/8, 192.168.1.7,::1',
    '--hostname', 'https://sso.example', '--hostname-admin', 'https://admin.example/', '--hostname-strict', 'true',
  ]);
  t.is(o.proxyHeaders, 'forwarded');
  t.deepEqual(o.proxyTrustedAddresses, ['10.0.0.0/8', '192.168.1.7', '::1']);
  t.is(o.hostnameAdmin, 'https://admin.example');
  t.true(o.hostnameStrict);
  t.is(parse([], { SESSIOND_PROXY_HEADERS: 'xforwarded' }).proxyHeaders, 'xforwarded');
});

test('unknown flags, stray arguments and missing values are refused naming them', (t) => {
  refused(t, ['--bogus', '1'], {}, '--bogus');
  refused(t, ['--bogus=1'], {}, '--bogus');
  refused(t, ['stray'], {}, 'stray');
  refused(t, ['--shards'], {}, '--shards');
  refused(t, ['--shards', '--host', 'x'], {}, '--shards');
});

test('two services on one port are refused; port 0 (any free port) may repeat', (t) => {
  refused(t, ['--http-port', '9000'], {}, '--management-port');
  refused(t, ['--management-port', '8080'], {}, '--http-port');
  const o = parse(['--http-port', '0', '--management-port', '0']);
  t.deepEqual([o.httpPort, o.managementPort], [0, 0]);
});

test('--help and -h ask for help wherever they appear', (t) => {
  t.deepEqual(parseOptions(['--help'], {}), { help: true });
  t.deepEqual(parseOptions(['--shards', '2', '-h'], {}), { help: true });
});

test('cluster options: --cluster-etcd switches cluster mode on and needs --hostname', (t) => {
  const single = parse([]);
  t.deepEqual(single.clusterEtcd, []);
  t.false(clusterMode(single));
  refused(t, ['--cluster-etcd', 'http://127.0.0.1:2379'], {}, '--hostname');
  const o = parse(['--cluster-etcd', 'http://127.0.0.1:2379,http://127.0.0.2:2379', '--hostname', 'http://sso.test', '--grpc-advertise', '10.0.0.1:50051', '--owners', '3']);
  t.true(clusterMode(o));
  t.deepEqual(o.clusterEtcd, ['http://127.0.0.1:2379', 'http://127.0.0.2:2379']);
  t.is(o.grpcAdvertise, '10.0.0.1:50051');
  t.is(o.owners, 3);
  t.is(o.clusterName, 'sessiond');
  t.is(o.touchReplicationIntervalMs, 1000);
  t.is(o.replicateTimeoutMs, 1000);
  refused(t, ['--cluster-etcd', 'etcd:2379', '--hostname', 'http://sso.test'], {}, '--cluster-etcd');
  refused(t, ['--grpc-advertise', 'nohost'], {}, '--grpc-advertise');
  refused(t, ['--touch-replication-interval', '10'], {}, 'at least 50');
  refused(t, ['--peers', 'node-2:50051'], {}, 'unknown option --peers');
});

test('cluster options: the mutual-TLS files go together, in cluster mode only', (t) => {
  const cluster = ['--cluster-etcd', 'http://127.0.0.1:2379', '--hostname', 'http://sso.test'];
  const o = parse([...cluster, '--grpc-tls-ca', 'ca.pem', '--grpc-tls-cert', 'n1.pem'], { SESSIOND_GRPC_TLS_KEY: 'n1.key' });
  t.deepEqual([o.grpcTlsCa, o.grpcTlsCert, o.grpcTlsKey], ['ca.pem', 'n1.pem', 'n1.key']);
  refused(t, [...cluster, '--grpc-tls-ca', 'ca.pem', '--grpc-tls-cert', 'n1.pem'], {}, 'give all three');
  refused(t, ['--grpc-tls-ca', 'ca.pem', '--grpc-tls-cert', 'n1.pem', '--grpc-tls-key', 'n1.key'], {}, 'need --cluster-etcd');
});

test('cluster options: a zone is a short name, in cluster mode only', (t) => {
  const cluster = ['--cluster-etcd', 'http://127.0.0.1:2379', '--hostname', 'http://sso.test'];
  t.is(parse([...cluster, '--zone', 'eu-west-1a']).zone, 'eu-west-1a');
  t.is(parse(cluster, { SESSIOND_ZONE: 'rack_12.b' }).zone, 'rack_12.b');
  for (const bad of ['', '-a', 'a b', 'zone/1', 'x'.repeat(64)]) refused(t, [...cluster, '--zone', bad], {}, '--zone');
  refused(t, ['--zone', 'a'], {}, 'needs --cluster-etcd');
});

test('cluster options: TLS to etcd needs a CA with https:// URLs; the client certificate and key go together and need the CA; cluster mode only', (t) => {
  const hostname = ['--hostname', 'http://sso.test'];
  const secure = ['--cluster-etcd', 'https://127.0.0.1:2379,https://127.0.0.2:2379', ...hostname];
  const plain = ['--cluster-etcd', 'http://127.0.0.1:2379', ...hostname];
  const ca = parse([...secure, '--cluster-etcd-ca', 'etcd-ca.pem']);
  t.deepEqual([ca.clusterEtcdCa, ca.clusterEtcdCert, ca.clusterEtcdKey], ['etcd-ca.pem', null, null], 'the CA alone: TLS without a client certificate');
  const mutual = parse([...secure, '--cluster-etcd-ca', 'etcd-ca.pem', '--cluster-etcd-cert', 'n1-etcd.pem'], { SESSIOND_CLUSTER_ETCD_KEY: 'n1-etcd.key' });
  t.deepEqual([mutual.clusterEtcdCa, mutual.clusterEtcdCert, mutual.clusterEtcdKey], ['etcd-ca.pem', 'n1-etcd.pem', 'n1-etcd.key']);
  const fromEnv = parse([], { SESSIOND_CLUSTER_ETCD: 'https://127.0.0.1:2379', SESSIOND_HOSTNAME: 'http://sso.test', SESSIOND_CLUSTER_ETCD_CA: 'etcd-ca.pem', SESSIOND_CLUSTER_ETCD_CERT: 'c.pem', SESSIOND_CLUSTER_ETCD_KEY: 'c.key' });
  t.deepEqual([fromEnv.clusterEtcdCa, fromEnv.clusterEtcdCert, fromEnv.clusterEtcdKey], ['etcd-ca.pem', 'c.pem', 'c.key']);
  t.is(parse(plain).clusterEtcdCa, null, 'http:// without the options: plaintext');

  refused(t, [...secure, '--cluster-etcd-ca', 'etcd-ca.pem', '--cluster-etcd-cert', 'n1-etcd.pem'], {}, 'give both');
  refused(t, [...secure, '--cluster-etcd-ca', 'etcd-ca.pem', '--cluster-etcd-key', 'n1-etcd.key'], {}, '--cluster-etcd-cert and --cluster-etcd-key go together');
  refused(t, [...secure, '--cluster-etcd-cert', 'n1-etcd.pem', '--cluster-etcd-key', 'n1-etcd.key'], {}, 'need --cluster-etcd-ca');
  refused(t, [...plain, '--cluster-etcd-ca', 'etcd-ca.pem'], {}, '--cluster-etcd http://127.0.0.1:2379: --cluster-etcd-ca turns on TLS to etcd, so every --cluster-etcd URL must be https://');
  refused(t, ['--cluster-etcd', 'https://127.0.0.1:2379,http://127.0.0.2:2379', ...hostname, '--cluster-etcd-ca', 'etcd-ca.pem'], {}, 'http://127.0.0.2:2379');
  refused(t, secure, {}, '--cluster-etcd https://127.0.0.1:2379: an https:// URL needs --cluster-etcd-ca');
  refused(t, ['--cluster-etcd', 'http://127.0.0.1:2379,https://127.0.0.2:2379', ...hostname], {}, 'https://127.0.0.2:2379');
  refused(t, ['--cluster-etcd-ca', 'etcd-ca.pem'], {}, 'need --cluster-etcd');
  refused(t, [], { SESSIOND_CLUSTER_ETCD_CERT: 'c.pem', SESSIOND_CLUSTER_ETCD_KEY: 'c.key' }, 'need --cluster-etcd');
});

test('the help text lists every flag with its variable and default', (t) => {
  const text = helpText();
  for (const spec of OPTION_SPECS) {
    t.true(text.includes(spec.flag), spec.flag);
    t.true(text.includes(envName(spec.flag)), envName(spec.flag));
  }
  t.regex(text, /--help/);
  t.regex(text, /default 8080/);
  t.regex(text, /SESSIOND_BOOTSTRAP_ADMIN_USERNAME/);
  t.regex(text, /status 2/);
});
