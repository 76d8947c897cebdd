// Goal: the management port answers liveness, readiness (shards up and every
// extra check) and a Prometheus exposition whose sessiond_ metrics follow
// the engine: sessions and client sessions per realm, expirations by reason,
// mailbox depth per shard, commands by op and outcome, restarts per shard;
// `name[]` narrows the exposition to the metrics named.
// Method: Fastify inject() into buildManagementServer() over a real Engine
// (two workers, ManualClock); the exposition is parsed strictly.

import test from 'ava';
import { describePartition, type ClusterDescription } from '../../src/cluster/cluster-description.js';
import { nextTable, startHandoffs, type PartitionTable } from '../../src/cluster/partition-table.js';
import { newSessionId } from '../../src/protocol/partition.js';
import { buildManagementServer, type ClusterView } from '../../src/http/management-server.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { openEnv } from '../../src/store/lmdb-env.js';
import { startEngine, userOnShard, waitFor } from '../helpers/engine-harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { parseExposition, sampleValue } from '../helpers/prometheus.js';

const R = 'realm-uuid-1';

async function setup(t: Parameters<typeof startEngine>[0], readyChecks?: Record<string, () => boolean>, cluster?: ClusterView) {
  const metrics = new Metrics();
  const env = openEnv(tempDir(t));
  const h = await startEngine(t, { observer: metrics.engineObserver(), env });
  t.teardown(() => env.close());
  const app = buildManagementServer({
    engine: h.engine, metrics, realmIds: () => [R, 'empty-uuid'], realmName: (id) => (id === R ? 'demo' : 'empty'),
    ...(readyChecks === undefined ? {} : { readyChecks }),
    ...(cluster === undefined ? {} : { cluster }),
  });
  t.teardown(() => app.close());
  const scrape = async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    t.is(res.statusCode, 200);
    t.regex(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body);
  };
  return { ...h, metrics, app, scrape };
}

test('/health/live is UP', async (t) => {
  const { app } = await setup(t);
  const res = await app.inject({ method: 'GET', url: '/health/live' });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { status: 'UP' });
});

test('/health/ready is UP with the shards up, DOWN (503) when a check fails or the engine is closed', async (t) => {
  let imported = false;
  const { app, engine } = await setup(t, { imports: () => imported });
  let res = await app.inject({ method: 'GET', url: '/health/ready' });
  t.is(res.statusCode, 503);
  t.deepEqual(res.json(), { status: 'DOWN', checks: { shards: true, imports: false } });
  imported = true;
  res = await app.inject({ method: 'GET', url: '/health/ready' });
  t.is(res.statusCode, 200);
  t.deepEqual(res.json(), { status: 'UP', checks: { shards: true, imports: true } });
  await engine.close();
  res = await app.inject({ method: 'GET', url: '/health/ready' });
  t.is(res.statusCode, 503);
  t.deepEqual(res.json(), { status: 'DOWN', checks: { shards: false, imports: true } });
});

test('/metrics is valid exposition text with every sessiond_ metric described', async (t) => {
  const { scrape } = await setup(t);
  const m = await scrape();
  for (const [name, type] of [
    ['sessiond_sessions_active', 'gauge'], ['sessiond_client_sessions_active', 'gauge'], ['sessiond_session_expirations_total', 'counter'],
    ['sessiond_actor_mailbox_depth', 'gauge'], ['sessiond_actor_commands_total', 'counter'], ['sessiond_actor_restarts_total', 'counter'],
  ] as const) {
    t.is(m.type.get(name), type, name);
    t.true((m.help.get(name) ?? '').length > 0, `${name} has help`);
  }
  t.true([...m.type.keys()].every((name) => name.startsWith('sessiond_')), 'every metric has the prefix');
  t.true(m.type.has('sessiond_process_cpu_user_seconds_total'), 'process metrics are prefixed too');
  t.is(sampleValue(m, 'sessiond_actor_mailbox_depth', { shard: '0' }), 0);
  t.is(sampleValue(m, 'sessiond_actor_mailbox_depth', { shard: '1' }), 0);
  t.is(sampleValue(m, 'sessiond_sessions_active', { realm: 'empty', type: 'regular' }), 0, 'known realms show up with 0');
});

test('/metrics follows sessions, client sessions, expirations, commands and restarts', async (t) => {
  const { engine, scrape, advance } = await setup(t);
  await engine.putRealm(R, { ssoSessionIdleTimeout: 600 });
  for (const u of [userOnShard(R, 0, 'a-'), userOnShard(R, 1, 'b-'), 'c']) {
    const { session } = await engine.createSession({ realm: R, userId: u, username: u, ip: '10.0.0.1', client: { client: 'app', scope: 'openid' } });
    await engine.attachClient(session.id, R, { client: 'portal', scope: 'openid' });
    if (u !== 'c') await engine.grantOffline(session.id, 'app', 'openid offline_access');
  }
  let m = await scrape();
  t.is(sampleValue(m, 'sessiond_sessions_active', { realm: 'demo', type: 'regular' }), 3, 'labelled with the realm name');
  t.is(sampleValue(m, 'sessiond_sessions_active', { realm: 'demo', type: 'offline' }), 2, 'offline counters summed over the shards');
  t.is(sampleValue(m, 'sessiond_client_sessions_active', { realm: 'demo' }), 6);
  t.is(sampleValue(m, 'sessiond_actor_commands_total', { op: 'sessionCreate', outcome: 'ok' }), 3);

  await advance(720);
  m = await scrape();
  t.is(sampleValue(m, 'sessiond_sessions_active', { realm: 'demo', type: 'regular' }), 0);
  t.is(sampleValue(m, 'sessiond_session_expirations_total', { realm: 'demo', reason: 'idle' }), 3);
  m = await scrape();
  t.is(sampleValue(m, 'sessiond_session_expirations_total', { realm: 'demo', reason: 'idle' }), 3, 'a counter, not re-added per scrape');

  await engine.crashShard(1);
  await waitFor(() => engine.ready, 'shard 1 to restart');
  m = await scrape();
  t.is(sampleValue(m, 'sessiond_actor_restarts_total', { shard: '1' }), 1);
  t.is(sampleValue(m, 'sessiond_session_expirations_total', { realm: 'demo', reason: 'idle' }), 3, 'a restarted shard does not lower the counter');
});

test('/metrics?name[]= exposes only the metrics named, each once, and skips names not exported', async (t) => {
  const { app, scrape } = await setup(t);
  const whole = await scrape();
  const names = ['sessiond_actor_mailbox_depth', 'sessiond_sessions_active'];
  const only = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/metrics?${query}` });
    t.is(res.statusCode, 200);
    t.regex(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parseExposition(res.body);
  };
  const m = await only('name[]=sessiond_actor_mailbox_depth&name[]=no_such_metric&name[]=sessiond_sessions_active&name[]=sessiond_actor_mailbox_depth');
  t.deepEqual([...m.type.keys()].sort(), names);
  const asked = names.flatMap((name) => whole.samples.filter((s) => s.name === name));
  t.deepEqual(m.samples, asked, 'the samples of the whole exposition, in the order asked, each metric once');
  t.deepEqual([...(await only('name[]=sessiond_actor_mailbox_depth')).type.keys()], ['sessiond_actor_mailbox_depth'], 'one name alone');
  t.deepEqual((await only('name[]=no_such_metric')).samples, [], 'nothing exported by that name: an empty exposition');
});

test('a /metrics?name[]= scrape asks the shards only when it names a gauge they feed', async (t) => {
  const { app, scrape } = await setup(t);
  const statsAsked = async () => sampleValue(await scrape(), 'sessiond_actor_commands_total', { op: 'statsGet', outcome: 'ok' }) ?? 0;
  const first = await statsAsked();
  const perScrape = (await statsAsked()) - first; // every shard, once a scrape
  t.true(perScrape > 0);
  const before = first + perScrape;
  for (const name of ['sessiond_actor_mailbox_depth', 'sessiond_actor_restarts_total', 'sessiond_process_cpu_user_seconds_total']) {
    t.is((await app.inject({ method: 'GET', url: `/metrics?name[]=${name}` })).statusCode, 200);
  }
  t.is(await statsAsked(), before + perScrape, 'only the whole scrape asked them');
  t.is((await app.inject({ method: 'GET', url: '/metrics?name[]=sessiond_actor_mailbox_depth&name[]=sessiond_sessions_active' })).statusCode, 200);
  t.is(await statsAsked(), before + 3 * perScrape, 'a scrape naming sessiond_sessions_active asked them');
});

test('/cluster answers what the member describes, never cached; a node that runs alone answers 404 saying so', async (t) => {
  const alone = await setup(t);
  let res = await alone.app.inject({ method: 'GET', url: '/cluster' });
  t.is(res.statusCode, 404);
  t.like(res.json(), { error: 'not_found' });
  t.regex(res.json<{ error_description: string }>().error_description, /--cluster-etcd/);

  let asked = 0;
  const description = (): ClusterDescription => {
    asked++;
    return {
      cluster: 'sessiond', node: 'n1', zone: 'a', serving: true, ready: true, leaseValid: true, etcdReachable: true, coordinator: 'n1', viewRevision: asked,
      members: [], table: null,
    };
  };
  const member = await setup(t, undefined, { describe: description, describePartition: () => null });
  res = await member.app.inject({ method: 'GET', url: '/cluster' });
  t.is(res.statusCode, 200);
  t.is(res.headers['cache-control'], 'no-store');
  t.like(res.json(), { node: 'n1', zone: 'a', viewRevision: 1 });
  res = await member.app.inject({ method: 'GET', url: '/cluster' });
  t.like(res.json(), { viewRevision: 2 }, 'asked again on every request');
});

test('/cluster/partitions/{p} and /cluster/sessions/{id} name a partition\'s primary, backups, pending copies and handoff; bad numbers and ids are 400', async (t) => {
  const alone = await setup(t);
  for (const url of ['/cluster/partitions/5', `/cluster/sessions/${newSessionId(5)}`]) {
    const res = await alone.app.inject({ method: 'GET', url });
    t.is(res.statusCode, 404, url);
    t.like(res.json(), { error: 'not_found' });
  }

  let table: PartitionTable | null = null;
  const member = await setup(t, undefined, { describe: () => { throw new Error('not asked'); }, describePartition: (p) => describePartition(table, p) });
  let res = await member.app.inject({ method: 'GET', url: '/cluster/partitions/5' });
  t.is(res.statusCode, 503, 'no table yet');
  t.like(res.json(), { error: 'temporarily_unavailable' });

  table = startHandoffs(nextTable(null, ['n1', 'n2', 'n3'], 1, 2).table, 2, new Set(['n1']))!;
  const handedOff = Number(Object.keys(table.handoff!)[0]);
  res = await member.app.inject({ method: 'GET', url: `/cluster/partitions/${handedOff}` });
  t.is(res.statusCode, 200);
  t.is(res.headers['cache-control'], 'no-store');
  t.deepEqual(res.json(), {
    partition: handedOff, tableVersion: table.version, primary: 'n1', backups: table.owners[handedOff]!.slice(1), pending: [], handoffTo: table.handoff![handedOff],
  });
  const id = newSessionId(77);
  res = await member.app.inject({ method: 'GET', url: `/cluster/sessions/${id}` });
  t.like(res.json(), { session: id, partition: 77, primary: table.owners[77]![0], handoffTo: table.handoff![77] ?? null });

  for (const url of ['/cluster/partitions/1024', '/cluster/partitions/-1', '/cluster/partitions/abc', '/cluster/partitions/1e3', '/cluster/sessions/not-a-session-id']) {
    res = await member.app.inject({ method: 'GET', url });
    t.is(res.statusCode, 400, url);
    t.like(res.json(), { error: 'invalid_request' }, url);
  }
});

test('unknown management paths are 404', async (t) => {
  const { app } = await setup(t);
  t.is((await app.inject({ method: 'GET', url: '/nope' })).statusCode, 404);
  t.is((await app.inject({ method: 'POST', url: '/metrics' })).statusCode, 404);
});
