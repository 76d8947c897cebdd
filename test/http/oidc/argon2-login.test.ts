// Users imported from a Keycloak 25+ export, whose passwords Keycloak hashed
// with argon2 (its default), keep their passwords: the password grant
// verifies argon2id (Keycloak's default parameters) and argon2i (a
// non-default provider configuration) hashes, next to a PBKDF2 one.

import test from 'ava';
import { fileURLToPath } from 'node:url';
import { startNode, type TestNode } from '../../helpers/node-harness.js';

const FIXTURE_DIR = fileURLToPath(new URL('../../../../test/fixtures/keycloak/argon2', import.meta.url));
const ACME_WEB: [string, string] = ['acme-web', 'acme-web-secret-5f0c1d'];

let h: TestNode;
test.before(async () => {
  h = await startNode({ demo: false });
  const { imported } = await h.node.importDirectory(FIXTURE_DIR);
  if (imported[0] !== 'acme') throw new Error(`fixture not imported: ${imported.join(', ')}`);
});
test.after.always(async () => {
  await h?.stop();
});

function grant(username: string, password: string) {
  return h.token('acme', { grant_type: 'password', client_id: ACME_WEB[0], client_secret: ACME_WEB[1], username, password, scope: 'openid' });
}

test('the fixture holds argon2 credentials as Keycloak wrote them', (t) => {
  const realm = h.realm('acme');
  const jane = h.node.store.userByUsername(realm.id, 'jane.doe')!;
  t.like(jane.credentials[0], { algorithm: 'argon2', iterations: 5, argon2: { type: 'id', version: '1.3', memory: 7168, parallelism: 1, hashLength: 32 } });
  const john = h.node.store.userByUsername(realm.id, 'john.smith')!;
  t.like(john.credentials[0], { algorithm: 'argon2', iterations: 2, argon2: { type: 'i', memory: 65536, parallelism: 2, hashLength: 64 } });
});

test('argon2 users log in with their Keycloak passwords, and only with them', async (t) => {
  const jane = await grant('jane.doe', 'Jane-Acme-2024!');
  t.is(jane.status, 200, jane.text);
  t.truthy(jane.body.access_token);
  const john = await grant('john.smith', 'John-Acme-2024!');
  t.is(john.status, 200, john.text);
  const wrong = await grant('jane.doe', 'Jane-Acme-2024?');
  t.is(wrong.status, 401);
  t.is(wrong.body.error, 'invalid_grant');
});
