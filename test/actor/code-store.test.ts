// Goal: a partition's pending codes (what a state transfer carries) are those
// put and neither taken, swept nor expired, in arrival order, and only that
// partition's.
// Method: a CodeStore driven directly, codes of two partitions.

import test from 'ava';
import { CodeStore } from '../../src/actor/code-store.js';
import { newSessionId } from '../../src/protocol/partition.js';

const NOW = 1_800_000_000;
const data = (exp: number) => ({ client: 'c', redirectUri: 'https://app/cb', scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp, ssoAuth: false });

test('a partition\'s codes leave its listing when taken or swept, and never list another partition\'s', (t) => {
  const store = new CodeStore();
  const [a, b, other] = [newSessionId(3), newSessionId(3), newSessionId(4)];
  store.put(a, 'old', data(NOW - 5), NOW - 70);
  store.put(a, 'first', data(NOW + 60), NOW);
  store.put(b, 'second', data(NOW + 60), NOW);
  store.put(other, 'elsewhere', data(NOW + 60), NOW);
  const listed = (p: number) => store.partitionCodes(p, NOW).map((c) => `${c.sessionId === a ? 'a' : c.sessionId === b ? 'b' : 'other'} ${c.code}`);
  t.deepEqual(listed(3), ['a first', 'b second'], 'expired ones are left out, arrival order kept');
  t.deepEqual(listed(4), ['other elsewhere']);

  t.truthy(store.take(a, 'first', NOW)); // the take also sweeps the expired code
  t.deepEqual(listed(3), ['b second']);
  t.is(store.size, 2);
  t.truthy(store.take(b, 'second', NOW));
  t.deepEqual(listed(3), []);
  t.deepEqual(listed(4), ['other elsewhere']);
});
