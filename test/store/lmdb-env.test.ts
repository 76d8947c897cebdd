import test from 'ava';
import { DB, SCHEMA_VERSION, SchemaError, openEnv } from '../../src/store/lmdb-env.js';
import { tempDir } from '../helpers/temp-dir.js';

test('a new data directory is stamped with the current schema version', async (t) => {
  const dir = tempDir(t);
  const env = openEnv(dir);
  t.is(env.db<number>(DB.meta).get('schemaVersion'), SCHEMA_VERSION);
  await env.close();
  const again = openEnv(dir);
  t.is(again.db<number>(DB.meta).get('schemaVersion'), SCHEMA_VERSION);
  await again.close();
});

test('a data directory written by a newer sessiond is refused with a clear message', async (t) => {
  const dir = tempDir(t);
  const env = openEnv(dir);
  env.db<number>(DB.meta).putSync('schemaVersion', SCHEMA_VERSION + 1);
  await env.close();
  const err = t.throws(() => openEnv(dir), { instanceOf: SchemaError });
  t.regex(err!.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}`));
  t.regex(err!.message, /understands up to/);
  t.is(err!.code, 'ERR_SCHEMA_VERSION');
});

test('named databases keep ordered array keys', async (t) => {
  const env = openEnv(tempDir(t));
  const db = env.db<null>(DB.offlineExpiry);
  await env.root.transaction(() => {
    db.put([3, 200, 'b'], null);
    db.put([3, 100, 'a'], null);
    db.put([4, 50, 'c'], null);
  });
  const keys = [...db.getRange({ start: [3, 0], end: [3, 1000] })].map((e) => e.key);
  t.deepEqual(keys, [
    [3, 100, 'a'],
    [3, 200, 'b'],
  ]);
  await env.close();
});
