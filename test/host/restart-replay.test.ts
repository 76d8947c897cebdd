// A restarted shard gets its whole configuration back even when the
// configuration is larger than a (deliberately tiny) mailbox: the replay is
// admitted past the command bound, so the shard never comes back without
// its realms.

import test from 'ava';
import { Engine } from '../../src/host/engine.js';
import { userOnShard } from '../helpers/engine-harness.js';

test('a crashed shard comes back with every realm and client, whatever the mailbox size', async (t) => {
  const engine = await Engine.start({ shards: 2, mailboxCommandsMax: 8 });
  t.teardown(() => engine.close());
  await engine.putRealm('r1', {});
  for (let i = 0; i < 10; i++) await engine.putClient('r1', `client-${i}`, {});
  await engine.crashShard(0);
  const user = userOnShard('r1', 0);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const { session } = await engine.createSession({ realm: 'r1', userId: user, username: user, ip: '10.0.0.1', client: { client: 'client-9', scope: 'openid' } });
      t.is(session.clients[0]?.client, 'client-9');
      break;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'ERR_ACTOR_RESTARTED' && code !== 'ERR_ACTOR_OVERLOADED') throw err;
      if (Date.now() > deadline) throw new Error(`shard 0 did not come back within 10 s (last error ${code})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  t.true((await engine.validate((await engine.listUserSessions('r1', user))[0]!.id, 'client-9')).valid);
});
