// A data directory belongs to one node of one cluster, and remembers the membership a restart comes back as.

import test from 'ava';
import { ConfigError } from '../../src/config/options.js';
import { checkNodeIdentity, rememberMembership, rememberedMembership } from '../../src/cluster/node-identity.js';
import { openEnv } from '../../src/store/lmdb-env.js';
import { tempDir } from '../helpers/temp-dir.js';

test('the first start records the node and cluster; the same pair starts again, another is refused with both names', async (t) => {
  const dir = tempDir(t);
  const env = openEnv(dir);
  t.teardown(() => env.close());
  checkNodeIdentity(env, 'prod', 'n1');
  t.notThrows(() => checkNodeIdentity(env, 'prod', 'n1'));
  const otherNode = t.throws(() => checkNodeIdentity(env, 'prod', 'n2'), { instanceOf: ConfigError });
  t.regex(otherNode!.message, /belongs to node n1 of cluster prod, not to node n2 of cluster prod/);
  t.throws(() => checkNodeIdentity(env, 'staging', 'n1'), { instanceOf: ConfigError, message: /not to node n1 of cluster staging/ });
});

test('the membership a restart comes back as survives the environment being reopened, and is forgotten when set to none', async (t) => {
  const dir = tempDir(t);
  let env = openEnv(dir);
  t.is(rememberedMembership(env), null, 'never a member');
  await rememberMembership(env, { incarnation: '7587882', tableRevision: 42 });
  await env.close();
  env = openEnv(dir);
  t.teardown(() => env.close());
  t.deepEqual(rememberedMembership(env), { incarnation: '7587882', tableRevision: 42 });
  await rememberMembership(env, null);
  t.is(rememberedMembership(env), null);
});
