// Sessions are durable: a process killed with SIGKILL right after issuing
// them (no shutdown code at all) loses none. An offline grant answers only
// after LMDB committed it; an online session is journaled before its creation
// is answered (durability 'journal', the default).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { Engine } from '../../src/host/engine.js';
import { openEnv } from '../../src/store/lmdb-env.js';
import { tempDir } from '../helpers/temp-dir.js';

const WRITER = fileURLToPath(new URL('../fixtures/offline-writer.js', import.meta.url));

/** An engine on the data directory with the writer's realm and client configured (as a restarted node is). */
async function engineOn(t: ExecutionContext, dir: string): Promise<Engine> {
  const env = openEnv(dir);
  const engine = await Engine.start({ shards: 2, env });
  t.teardown(async () => {
    await engine.close();
    await env.close();
  });
  await engine.putRealm('realm-1', {});
  await engine.putClient('realm-1', 'client-1', {});
  return engine;
}

test('offline and online sessions survive kill -9 of the engine that issued them', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, [WRITER, dir, '200'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const end = out.indexOf('\n');
      if (end >= 0) resolve(out.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
  });
  const ids = JSON.parse(line) as string[];
  child.kill('SIGKILL');
  await once(child, 'exit');

  const engine = await engineOn(t, dir);
  t.is(await engine.countClientOfflineSessions('client-1'), 200);
  for (const id of ids) {
    const got = await engine.getOfflineSession(id);
    t.is(got?.session.id, id);
  }
  t.is((await engine.loadSnapshot()).loaded, 200, 'every answered online session is back from the journal');
  for (const id of ids) t.true((await engine.validate(id, 'client-1')).valid);
});

test('a crashed shard worker comes back with its online sessions, restored from the journal', async (t) => {
  const dir = tempDir(t);
  const engine = await engineOn(t, dir);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const { session } = await engine.createSession({ realm: 'realm-1', userId: `user-${i}`, username: `user-${i}`, ip: '10.0.0.1', client: { client: 'client-1', scope: 'openid' } });
    ids.push(session.id);
  }
  const gone = ids.pop()!;
  await engine.logoutSession(gone);
  await engine.crashShard(0);
  await engine.crashShard(1);
  const deadline = Date.now() + 10_000;
  while (!engine.ready) {
    if (Date.now() > deadline) throw new Error('shards did not come back within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const id of ids) t.true((await engine.validate(id, 'client-1')).valid, `session ${id} survived its worker`);
  t.false((await engine.validate(gone)).valid, 'a logged-out session stays logged out');
  t.deepEqual(engine.restarts(), [1, 1]);
});
