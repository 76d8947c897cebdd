// Goal: the real process behaves as an operator expects (docs/configuration.md):
// it becomes ready on its management port, serves parseable Prometheus
// metrics, stops with exit code 0 on SIGTERM, refuses invalid configuration
// with exit code 2 and exactly one stderr line naming the option, and
// documents every option in --help. Method: spawn `node dist/src/main.js`
// on 127.0.0.1 with free ports (found by listening on port 0 first), wait
// for its "ready" log line, talk HTTP to it, signal it.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { OPTION_SPECS, envName } from '../src/config/options.js';
import { EtcdProcess } from './helpers/etcd-process.js';
import { cleanEnv, freePort, freePorts, logLine, run, type Run } from './helpers/node-process.js';
import { parseExposition, sampleValue } from './helpers/prometheus.js';
import { tempDir } from './helpers/temp-dir.js';
import { testCa, type NodePki } from './helpers/test-pki.js';

const MAIN = new URL('../src/main.js', import.meta.url);

async function startNode(t: ExecutionContext): Promise<{ r: Run; managementPort: number; httpPort: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sessiond-main-'));
  const [managementPort, httpPort] = await freePorts(2);
  const r = run([
    '--host', '127.0.0.1', '--management-port', String(managementPort), '--http-port', String(httpPort),
    '--shards', '2', '--data-dir', dataDir, '--log-level', 'info',
  ]);
  t.teardown(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
    await rm(dataDir, { recursive: true, force: true });
  });
  const ready = await logLine(r, 'sessiond node ready');
  t.is(ready['url'], `http://127.0.0.1:${httpPort}`);
  t.is(ready['managementUrl'], `http://127.0.0.1:${managementPort}`);
  return { r, managementPort, httpPort };
}

test.serial('the process becomes ready, serves Prometheus metrics, and exits 0 on SIGTERM', async (t) => {
  const { r, managementPort } = await startNode(t);
  const base = `http://127.0.0.1:${managementPort}`;

  const live = await fetch(`${base}/health/live`);
  t.is(live.status, 200);
  const ready = await fetch(`${base}/health/ready`);
  t.is(ready.status, 200);
  t.is(((await ready.json()) as { status: string }).status, 'UP');

  const res = await fetch(`${base}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const m = parseExposition(await res.text());
  for (const [name, type] of [
    ['sessiond_sessions_active', 'gauge'], ['sessiond_client_sessions_active', 'gauge'], ['sessiond_session_expirations_total', 'counter'],
    ['sessiond_actor_mailbox_depth', 'gauge'], ['sessiond_actor_commands_total', 'counter'], ['sessiond_actor_restarts_total', 'counter'],
  ] as const) {
    t.is(m.type.get(name), type, `# TYPE ${name}`);
    t.true((m.help.get(name) ?? '').length > 0, `# HELP ${name}`);
  }
  t.is(sampleValue(m, 'sessiond_actor_mailbox_depth', { shard: '0' }), 0);
  t.is(sampleValue(m, 'sessiond_actor_mailbox_depth', { shard: '1' }), 0);
  t.is(sampleValue(m, 'sessiond_actor_mailbox_depth', { shard: '2' }), undefined, 'exactly the two shards asked for');

  const warning = await logLine(r, 'the bootstrap admin has the default password: set SESSIOND_BOOTSTRAP_ADMIN_PASSWORD before first start, or change it through the admin API');
  t.is(warning['level'], 40, 'a warning');
  const noHostname = await logLine(r, "no --hostname: token issuers follow each request's Host header (and trusted proxy headers); set --hostname (and --hostname-strict true) in production");
  t.is(noHostname['level'], 40);

  t.true(r.child.kill('SIGTERM'));
  const { code, signal } = await r.exit;
  t.is(signal, null);
  t.is(code, 0, `stderr: ${r.stderr()}`);
  t.is(r.stderr(), '', 'nothing on stderr');
  t.truthy(await logLine(r, 'stopped'));
});

const invalid: [string, string[], Record<string, string>, string][] = [
  ['a port that is not a number', ['--http-port', 'abc'], {}, '--http-port'],
  ['zero shards', ['--shards', '0'], {}, '--shards'],
  ['an unknown flag', ['--no-such-flag', '1'], {}, '--no-such-flag'],
  ['an invalid environment variable', [], { SESSIOND_IDLE_GRACE_SECONDS: 'soon' }, 'SESSIOND_IDLE_GRACE_SECONDS'],
  ['a flag without its value', ['--management-port'], {}, '--management-port'],
  ['cluster mode without --hostname', ['--cluster-etcd', 'http://127.0.0.1:2379'], {}, '--hostname'],
  ['TLS files without cluster mode', ['--grpc-tls-ca', 'ca.pem', '--grpc-tls-cert', 'n1.pem', '--grpc-tls-key', 'n1.key'], {}, '--cluster-etcd'],
  ['some of the TLS files', ['--cluster-etcd', 'http://127.0.0.1:2379', '--hostname', 'http://sso.test', '--grpc-tls-cert', 'n1.pem'], {}, '--grpc-tls-key'],
  [
    'TLS files that do not exist',
    ['--cluster-etcd', 'http://127.0.0.1:2379', '--hostname', 'http://sso.test', '--grpc-tls-ca', '/nonexistent/ca.pem', '--grpc-tls-cert', 'n1.pem', '--grpc-tls-key', 'n1.key'],
    {},
    '--grpc-tls-ca /nonexistent/ca.pem: ENOENT',
  ],
  ['etcd TLS files without cluster mode', ['--cluster-etcd-ca', 'etcd-ca.pem'], {}, '--cluster-etcd'],
  ['an https:// etcd URL without its CA', ['--cluster-etcd', 'https://127.0.0.1:2379', '--hostname', 'http://sso.test'], {}, '--cluster-etcd-ca'],
  ['an etcd CA with an http:// etcd URL', ['--cluster-etcd', 'http://127.0.0.1:2379', '--hostname', 'http://sso.test', '--cluster-etcd-ca', 'etcd-ca.pem'], {}, '--cluster-etcd-ca turns on TLS to etcd'],
  ['an etcd client certificate without its key', ['--cluster-etcd', 'https://127.0.0.1:2379', '--hostname', 'http://sso.test', '--cluster-etcd-ca', 'etcd-ca.pem'], { SESSIOND_CLUSTER_ETCD_CERT: 'n1.pem' }, '--cluster-etcd-key'],
  [
    'an etcd CA file that does not exist',
    ['--cluster-etcd', 'https://127.0.0.1:2379', '--hostname', 'http://sso.test', '--cluster-etcd-ca', '/nonexistent/etcd-ca.pem'],
    {},
    '--cluster-etcd-ca /nonexistent/etcd-ca.pem: ENOENT',
  ],
];

for (const [what, args, env, names] of invalid) {
  test(`invalid configuration (${what}) exits 2 with one stderr line naming ${names}`, async (t) => {
    const dataDir = join(tempDir(t), 'data');
    const r = run(['--data-dir', dataDir, ...args], cleanEnv(env));
    const { code } = await r.exit;
    t.is(code, 2);
    const lines = r.stderr().split('\n').filter((l) => l !== '');
    t.is(lines.length, 1, r.stderr());
    t.true(lines[0]!.includes(names), lines[0]);
    t.is(r.stdout(), '', 'it did not start');
    t.false(existsSync(dataDir), 'its data directory was left alone');
  });
}

test('--help exits 0 and lists every option with its environment variable', async (t) => {
  const r = run(['--help']);
  const { code } = await r.exit;
  t.is(code, 0);
  t.is(r.stderr(), '');
  const text = r.stdout();
  for (const spec of OPTION_SPECS) {
    t.true(text.includes(spec.flag), spec.flag);
    t.true(text.includes(envName(spec.flag)), envName(spec.flag));
  }
  t.true(text.includes('--help'));
});

/** The repository root (this file runs from dist/test). */
const ROOT = new URL('../../', import.meta.url).pathname;

/** Options for a node on free loopback ports in a fresh data directory (removed at teardown). */
async function nodeArgs(t: ExecutionContext, dataDir?: string): Promise<{ args: string[]; httpPort: number; dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'sessiond-main-')));
  if (dataDir === undefined) t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [managementPort, httpPort] = await freePorts(2);
  return {
    args: ['--host', '127.0.0.1', '--management-port', String(managementPort), '--http-port', String(httpPort), '--shards', '2', '--data-dir', dir, '--log-level', 'info'],
    httpPort,
    dataDir: dir,
  };
}

test.serial('npm start stopped by SIGTERM to its whole process group exits 0', async (t) => {
  // package.json's own start script, run by npm in the repository: its compile step finds the
  // build `npm test` just made up to date, then the node starts in the same process.
  const { args } = await nodeArgs(t);
  const r = run(['--', ...args], cleanEnv(), { file: 'npm', args: ['start', '--silent'], cwd: ROOT, detached: true });
  t.teardown(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) process.kill(-r.child.pid!, 'SIGKILL');
    await r.exit;
  });
  await logLine(r, 'sessiond node ready');
  process.kill(-r.child.pid!, 'SIGTERM'); // what a terminal's Ctrl-C or a supervisor's stop does
  const { code, signal } = await r.exit;
  t.is(signal, null);
  t.is(code, 0, `stderr: ${r.stderr()}`);
  t.truthy(await logLine(r, 'stopped'));
});

for (const [kind, trigger] of [['uncaughtException', 'SIGUSR2'], ['unhandledRejection', 'SIGHUP']] as const) {
  test.serial(`a fatal error (${kind}) is logged, the online sessions are saved, and the process exits non-zero`, async (t) => {
    // A fault planted from outside the product: a preloaded module that throws (or rejects) on a signal.
    const fault = `process.on('SIGUSR2', () => { throw new Error('planted fault'); }); process.on('SIGHUP', () => { void Promise.reject(new Error('planted rejection')); });`;
    const { args, httpPort, dataDir } = await nodeArgs(t);
    const withRealms = [...args, '--import-realm', join(ROOT, 'realms')];
    const r = run(withRealms, cleanEnv(), { file: process.execPath, args: ['--import', `data:text/javascript,${encodeURIComponent(fault)}`, MAIN.pathname] });
    t.teardown(async () => {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exit;
    });
    await logLine(r, 'sessiond node ready');
    const login = await fetch(`http://127.0.0.1:${httpPort}/realms/demo/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'demo-app', client_secret: 'demo-secret', username: 'alice', password: 'alice-password' }),
    });
    t.is(login.status, 200);
    r.child.kill(trigger);
    const { code } = await r.exit;
    t.not(code, 0);
    const fatal = await logLine(r, 'fatal error: saving online sessions and exiting');
    t.is(fatal['level'], 60);
    t.is(fatal['kind'], kind);
    t.is((await logLine(r, 'online sessions saved'))['sessions'], 1);

    // The saved session is back after a restart.
    const again = run([...(await nodeArgs(t, dataDir)).args]);
    t.teardown(async () => {
      if (again.child.exitCode === null && again.child.signalCode === null) again.child.kill('SIGKILL');
      await again.exit;
    });
    t.is((await logLine(again, 'online sessions restored from the last shutdown'))['restored'], 1);
    await logLine(again, 'sessiond node ready');
    again.child.kill('SIGTERM');
    const stopped = await again.exit;
    t.is(stopped.code, 0, `ended by signal ${stopped.signal}; stderr: ${again.stderr()}`);
  });
}

/** How long a node refused by etcd at start-up may take to exit (it fails at the first handshake, in well under a second). */
const ETCD_REFUSED_EXIT_MS = 10_000;
/** How long a one-node cluster may take to report ready. */
const CLUSTER_READY_MS = 30_000;

/** A cluster node on free loopback ports reaching `etcd` with the TLS files of `files` (killed at teardown if still running). */
async function tlsClusterNode(t: ExecutionContext, etcd: EtcdProcess, id: string, files: NodePki): Promise<{ r: Run; managementPort: number }> {
  const { args } = await nodeArgs(t);
  const managementPort = Number(args[args.indexOf('--management-port') + 1]);
  const r = run([
    ...args, '--node-id', id, '--grpc-port', String(await freePort()), '--hostname', 'http://sso.test', '--cluster-name', 'main-tls',
    '--cluster-etcd', etcd.clientUrl, '--cluster-etcd-ca', files.ca, '--cluster-etcd-cert', files.cert, '--cluster-etcd-key', files.key,
  ]);
  t.teardown(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
  });
  return { r, managementPort };
}

/** stderr's lines without Node's one-time warning about TLS server names that are IP addresses (docs/cluster.md). */
function stderrLines(r: Run): string[] {
  return r.stderr().split('\n').filter((l) => l !== '' && !l.includes('[DEP0123]') && !l.includes('--trace-deprecation'));
}

test.serial('a cluster node reaches an etcd that requires client certificates over TLS and turns ready; one holding another CA\'s certificate exits 1 saying etcd refused it', async (t) => {
  const dir = tempDir(t);
  const ca = testCa(dir);
  const etcd = await EtcdProcess.start({ tls: ca.issue('etcd', ['127.0.0.1']) });
  t.teardown(() => etcd.cleanup());

  const { r, managementPort } = await tlsClusterNode(t, etcd, 'n1', ca.issue('n1', ['127.0.0.1']));
  const joined = await logLine(r, 'joined the cluster');
  t.is(joined['node'], 'n1');
  t.is(joined['etcdTls'], true);
  const deadline = Date.now() + CLUSTER_READY_MS;
  let ready = await fetch(`http://127.0.0.1:${managementPort}/health/ready`);
  while (ready.status !== 200 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    ready = await fetch(`http://127.0.0.1:${managementPort}/health/ready`);
  }
  t.is(ready.status, 200, 'ready');
  // The etcd files are read again on SIGHUP too (their renewal is tested in test/cluster/transport-security.test.ts).
  r.child.kill('SIGHUP');
  await logLine(r, 'etcd certificates unchanged');

  const stranger = testCa(dir, 'other-ca').issue('n2', ['127.0.0.1']);
  const started = Date.now();
  const refused = await tlsClusterNode(t, etcd, 'n2', { ...stranger, ca: ca.ca });
  const { code } = await refused.r.exit;
  t.is(code, 1, refused.r.stderr());
  t.true(Date.now() - started < ETCD_REFUSED_EXIT_MS, `exited within ${ETCD_REFUSED_EXIT_MS} ms`);
  const lines = stderrLines(refused.r);
  t.is(lines.length, 1, refused.r.stderr());
  t.true(lines[0]!.startsWith(`sessiond: cannot reach etcd at ${etcd.clientUrl} (TLS): etcd refused this node's client certificate`), lines[0]);

  r.child.kill('SIGTERM');
  t.is((await r.exit).code, 0, `stderr: ${r.stderr()}`);
});

test.serial('SIGHUP reads the cluster\'s mutual-TLS certificates again: renewed files are taken and counted, unchanged ones left; a node that runs alone keeps serving', async (t) => {
  const ca = testCa(tempDir(t));
  const files = ca.issue('n1', ['127.0.0.1']);
  const etcd = await EtcdProcess.start();
  t.teardown(() => etcd.cleanup());
  const { args } = await nodeArgs(t);
  const managementPort = Number(args[args.indexOf('--management-port') + 1]);
  const r = run([
    ...args, '--node-id', 'n1', '--grpc-port', String(await freePort()), '--hostname', 'http://sso.test', '--cluster-name', 'main-hup',
    '--cluster-etcd', etcd.clientUrl, '--grpc-tls-ca', files.ca, '--grpc-tls-cert', files.cert, '--grpc-tls-key', files.key,
  ]);
  t.teardown(async () => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
  });
  t.is((await logLine(r, 'joined the cluster'))['tls'], true);
  r.child.kill('SIGHUP');
  await logLine(r, 'cluster certificates unchanged');
  ca.issue('n1', ['127.0.0.1']); // renewed in place
  r.child.kill('SIGHUP');
  const reloaded = await logLine(r, 'cluster certificates reloaded: new connections use them');
  const expiresAt = Date.parse(String(reloaded['expiresAt']));
  t.true(expiresAt > Date.now(), String(reloaded['expiresAt']));
  const metrics = parseExposition(await (await fetch(`http://127.0.0.1:${managementPort}/metrics`)).text());
  t.is(sampleValue(metrics, 'sessiond_cluster_tls_reloads_total', { link: 'peers', outcome: 'reloaded' }), 1);
  t.is(sampleValue(metrics, 'sessiond_cluster_tls_certificate_expiry_timestamp_seconds', { link: 'peers' }), Math.floor(expiresAt / 1000));
  writeFileSync(files.key, readFileSync(testCa(tempDir(t), 'other').issue('n1', ['127.0.0.1']).key)); // a key of another certificate
  r.child.kill('SIGHUP');
  const refused = await logLine(r, 'cluster certificates not reloaded: the files fail the checks; the current ones stay in use');
  t.regex(String(refused['reason']), /--grpc-tls-key is not the key of the certificate in --grpc-tls-cert/);
  r.child.kill('SIGTERM');
  t.is((await r.exit).code, 0, `stderr: ${r.stderr()}`);

  const alone = run((await nodeArgs(t)).args);
  t.teardown(async () => {
    if (alone.child.exitCode === null && alone.child.signalCode === null) alone.child.kill('SIGKILL');
    await alone.exit;
  });
  await logLine(alone, 'sessiond node ready');
  alone.child.kill('SIGHUP');
  await logLine(alone, 'nothing to reload: no --grpc-tls-* or --cluster-etcd-ca certificates');
  alone.child.kill('SIGTERM');
  t.is((await alone.exit).code, 0, 'SIGHUP did not end it; SIGTERM did, gracefully');
});
