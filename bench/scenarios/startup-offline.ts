// startup-offline: start-up of a real node process on a data directory
// holding 1,000,000 offline sessions, against the same start-up on the same
// data without them (docs/performance.md#targets: <= 1.5x). OfflineStore promises that
// start-up reads nothing of the offline sessions (they load on first use), so
// the ratio should stay near 1 whatever their number.
//
//   startup_ms_1m_offline   time from spawning `node dist/src/main.js
//       --data-dir D --import-realm R ...` to the first 200 of
//       /health/ready (polled every POLL_MS), median of REPEATS starts (quick:
//       1, on 100,000 sessions). Baseline: the same on a copy of the data
//       directory taken before the offline sessions were written (same realm,
//       same keys, same master realm), median of as many starts.
//
// Preparation: the realm file is imported once into a first data directory
// by an in-process node (then stopped); the directory is copied; the copy
// gets the offline sessions: one granted through the real OfflineStore (the
// record format and its expiry deadline are the real ones), the rest cloned
// from it straight into OfflineStore's layout (lib/offline-data.ts) and
// checked through OfflineStore's read paths. The offline sessions are valid
// for the realm's 30-day offline idle timeout, so nothing expires meanwhile.
// One unmeasured start warms the page cache for node and the modules; then
// the measured starts alternate between the two directories. Each start is
// stopped with SIGTERM (a graceful stop) before the next.

import { cp, mkdir } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseOptions } from '../../src/config/options.js';
import { SessiondNode } from '../../src/node.js';
import { offlineClientCount, offlineRealmCount } from '../lib/offline-data.js';
import { RealmStore } from '../../src/realm/realm-store.js';
import { clientSessionSettings, realmSessionSettings } from '../../src/session/index.js';
import { ENV_FILE, openEnv } from '../../src/store/lmdb-env.js';
import { freePorts, ServerProcess, tempDir } from '../http/processes.js';
import { writeRealmFile } from '../http/realm-file.js';
import { bulkWriteOffline, inProcessOfflineStore, OFFLINE_SCOPE, offlineSettings, onlineView } from '../lib/offline-data.js';
import { row, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const NAME = 'startup-offline';
/** dist/bench/scenarios/startup-offline.js -> dist/src/main.js */
const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const OFFLINE_FULL = 1_000_000;
const OFFLINE_QUICK = 100_000;
const REPEATS_FULL = 3;
const REPEATS_QUICK = 1;
const REALM = 'bench';
const CLIENT = 'bench-client';
const REALM_USERS = 100;
/** Readiness poll interval: the figure's resolution. Each poll is one small request on a fresh connection. */
const POLL_MS = 10;
const READY_TIMEOUT_MS = 120_000;

/** Spawns a node on `dataDir` and resolves with ms from spawn to /health/ready 200; the node is stopped after. */
async function timedStart(dataDir: string, realmDir: string): Promise<number> {
  const [httpPort, managementPort] = await freePorts(2);
  const args = [
    '--data-dir', dataDir,
    '--import-realm', realmDir,
    '--http-port', String(httpPort),
    '--management-port', String(managementPort),
    '--log-level', 'warn',
  ];
  const url = `http://127.0.0.1:${managementPort}/health/ready`;
  const t0 = performance.now();
  const proc = ServerProcess.start('sessiond', MAIN_JS, args);
  try {
    for (;;) {
      if (!proc.running) throw new Error(`sessiond exited before it was ready; output:\n${proc.output()}`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 200) return performance.now() - t0;
      } catch {
        // Not listening yet.
      }
      if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`not ready after ${READY_TIMEOUT_MS} ms; output:\n${proc.output()}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await proc.stop();
    if (proc.child.exitCode !== 0) throw new Error(`sessiond exited with ${String(proc.child.exitCode)} on SIGTERM; output:\n${proc.output()}`);
  }
}

/** Imports the realm directory into `dataDir` with an in-process node, as a first start would. */
async function importOnce(dataDir: string, realmDir: string): Promise<void> {
  const parsed = parseOptions(['--data-dir', dataDir, '--import-realm', realmDir, '--http-port', '0', '--management-port', '0', '--log-level', 'silent'], {});
  if (parsed.help) throw new Error('unexpected --help');
  const node = await SessiondNode.start({ options: parsed.options, log: pino({ level: 'silent' }) });
  await node.stop();
}

/** Writes `count` offline sessions of the realm's client into the data directory and checks them. */
async function writeOffline(dataDir: string, count: number, log: (line: string) => void): Promise<void> {
  const env = openEnv(dataDir);
  try {
    const store = RealmStore.open(env);
    const realm = store.realmByName(REALM);
    const client = realm === undefined ? undefined : store.clientByClientId(realm.id, CLIENT);
    if (realm === undefined || client === undefined) throw new Error(`realm ${REALM} or client ${CLIENT} missing after import`);
    // The settings a shard gets from the node (node.ts #pushRealm / #pushClient).
    const settings = offlineSettings(
      realm.id,
      realmSessionSettings(realm.sessions),
      new Map([[client.id, clientSessionSettings(client.attributes, client.notBefore)]]),
    );
    const now = Math.floor(Date.now() / 1000);
    const offline = inProcessOfflineStore(env, settings, 1000);
    const first = onlineView(0, realm.id, now);
    const template = await offline.grant(first.view, client.id, OFFLINE_SCOPE, now, first.partition);
    const t = performance.now();
    const samples = await bulkWriteOffline(env, template, {
      count: count - 1,
      offset: 1,
      progress: (done) => {
        if (done % 200_000 === 0) log(`  ${done.toLocaleString('en-US')} written`);
      },
    });
    await env.root.flushed;
    log(`${count.toLocaleString('en-US')} offline sessions written in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // Checked through OfflineStore's own read paths, on a fresh store (empty cache).
    const check = inProcessOfflineStore(env, settings, 1000);
    if (offlineRealmCount(env, realm.id) !== count) throw new Error(`offline-users counts ${offlineRealmCount(env, realm.id)}, wrote ${count}`);
    if (offlineClientCount(env, client.id) !== count) throw new Error(`offline-counts counts ${offlineClientCount(env, client.id)}, wrote ${count}`);
    for (const id of [template.id, ...samples]) {
      const record = check.get(id);
      if (record === undefined || check.invalidReason(record, now) !== null) throw new Error(`offline session ${id} unreadable or invalid`);
      if (check.userSessions(realm.id, record.userId).length !== 1) throw new Error(`offline-by-user misses ${id}`);
    }
    const swept = check.sweep(now + 1, 1000);
    if (swept.ended.length !== 0 || swept.work !== null) throw new Error('offline sweep found sessions due: deadlines are wrong');
  } finally {
    await env.close();
  }
}

function mb(dataDir: string): string {
  return `${(statSync(join(dataDir, ENV_FILE)).size / 1024 ** 2).toFixed(1)} MB`;
}

export const startupOffline: Scenario = {
  name: NAME,
  description: 'start-up of a node process (spawn to /health/ready) with 1 M offline sessions on disk vs none',
  async run({ quick, log }) {
    const count = quick ? OFFLINE_QUICK : OFFLINE_FULL;
    const repeats = quick ? REPEATS_QUICK : REPEATS_FULL;
    const dir = await tempDir('startup');
    try {
      const realmDir = join(dir.path, 'realms');
      const empty = join(dir.path, 'data-empty');
      const full = join(dir.path, 'data-offline');
      await mkdir(realmDir);
      await writeRealmFile(realmDir, {
        name: REALM,
        algorithm: 'ES256',
        users: REALM_USERS,
        usersPrefix: 'bench-user-',
        password: 'bench-password',
        hashIterations: 1000,
        client: CLIENT,
        secret: 'bench-secret',
      });
      let t = performance.now();
      await importOnce(empty, realmDir);
      await cp(empty, full, { recursive: true });
      log(`realm imported and data directory copied in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await writeOffline(full, count, log);
      log(`data files: ${mb(empty)} without, ${mb(full)} with ${count.toLocaleString('en-US')} offline sessions`);

      log(`warm-up start: ${(await timedStart(empty, realmDir)).toFixed(0)} ms (not counted)`);
      const without: number[] = [];
      const withOffline: number[] = [];
      for (let r = 0; r < repeats; r++) {
        // Alternating which goes first, so a drift in machine load hits both alike.
        const order: [string, number[]][] = r % 2 === 0 ? [[empty, without], [full, withOffline]] : [[full, withOffline], [empty, without]];
        for (const [dataDir, out] of order) out.push(await timedStart(dataDir, realmDir));
        log(`start ${r + 1}/${repeats}: ${withOffline[r]!.toFixed(0)} ms with ${count.toLocaleString('en-US')} offline sessions, ${without[r]!.toFixed(0)} ms without`);
      }
      if (count !== OFFLINE_FULL) log(`quick run: ${count.toLocaleString('en-US')} offline sessions (the metric keeps its 1m name)`);
      return [row(NAME, 'startup_ms_1m_offline', median(withOffline), 'ms', median(without))];
    } finally {
      await dir.remove();
    }
  },
};
