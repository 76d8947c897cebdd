// Realm import at start-up, end to end (the durable-state issue's acceptance):
// a Keycloak-exported realm with hashed credentials logs its users in with
// their original passwords; a second start leaves the existing realm as it is;
// a corrupt file fails the start with the file, the JSON path and the reason.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { pino } from 'pino';
import { parseOptions } from '../src/config/options.js';
import { SessiondNode } from '../src/node.js';
import { tempDir } from './helpers/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/keycloak/acme-realm.json', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

function options(dataDir: string, importRealm: string) {
  const parsed = parseOptions(['--data-dir', dataDir, '--import-realm', importRealm, '--http-port', '0', '--management-port', '0', '--shards', '2'], {});
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.options;
}

async function passwordGrant(node: SessiondNode, username: string, password: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const port = (node.server.server.address() as AddressInfo).port;
  const response = await fetch(`http://127.0.0.1:${port}/realms/acme/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('acme-web:acme-web-secret-5f0c1d').toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test.serial('imported Keycloak users log in with their original passwords; a second start leaves the realm alone', async (t) => {
  const dir = tempDir(t);
  const importDir = join(dir, 'import');
  mkdirSync(importDir);
  cpSync(FIXTURE, join(importDir, 'acme-realm.json'));
  const data = join(dir, 'data');
  const log = pino({ level: 'silent' });

  let node = await SessiondNode.start({ options: options(data, importDir), log });
  await node.listen();
  try {
    // Hashed the way Keycloak hashes (pbkdf2-sha512, 210,000 iterations; pbkdf2-sha256 27,500): verified as is.
    t.is((await passwordGrant(node, 'jane.doe', 'Jane-Acme-2024!')).status, 200);
    t.is((await passwordGrant(node, 'john.smith', 'John-Acme-2024!')).status, 200);
    // A plain-text credential of the export, hashed at import with the realm's policy. Mary still
    // has the required action VERIFY_EMAIL, so Keycloak's answer after a correct password is 400.
    const mary = await passwordGrant(node, 'mary.major', 'Mary-Acme-2024!');
    t.deepEqual([mary.status, mary.body['error_description']], [400, 'Account is not fully set up']);
    t.is((await passwordGrant(node, 'mary.major', 'wrong')).status, 401);
    const wrong = await passwordGrant(node, 'jane.doe', 'not-her-password');
    t.is(wrong.status, 401);
    t.is(wrong.body['error_description'], 'Invalid user credentials');
    // Change the realm, then start again with the same import directory.
    const realm = node.store.realmByName('acme')!;
    await node.store.updateRealm({ ...realm, displayName: 'changed after import' });
  } finally {
    await node.stop();
  }
  // The second start says what happened to the file, and nothing about an import that did not happen.
  const lines: Record<string, unknown>[] = [];
  const captured = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  node = await SessiondNode.start({ options: options(data, importDir), log: captured });
  const acmeLines = lines.filter((l) => l['realm'] === 'acme');
  t.is(acmeLines.length, 1, JSON.stringify(acmeLines));
  t.regex(String(acmeLines[0]?.['msg']), /^realm exists in the data directory: file not imported/);
  t.is(acmeLines[0]?.['file'], join(importDir, 'acme-realm.json'));
  await node.listen();
  try {
    t.is(node.store.realmByName('acme')?.displayName, 'changed after import', 'the existing realm was not re-imported');
    t.is((await passwordGrant(node, 'jane.doe', 'Jane-Acme-2024!')).status, 200);
  } finally {
    await node.stop();
  }
});

test('a corrupt realm file fails the start with the file, the JSON path and the reason (exit 2)', (t) => {
  const dir = tempDir(t);
  const importDir = join(dir, 'import');
  mkdirSync(importDir);
  writeFileSync(join(importDir, 'broken.json'), JSON.stringify({ realm: 'broken', users: [{ username: 'x', credentials: [{ type: 'password', secretData: '{not json', credentialData: '{}' }] }] }));
  const run = spawnSync(process.execPath, [MAIN, '--data-dir', join(dir, 'data'), '--import-realm', importDir, '--http-port', '0', '--management-port', '0', '--log-level', 'silent'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(run.status, 2, run.stderr);
  t.regex(run.stderr, /broken\.json/);
  t.regex(run.stderr, /\$\.users\[0\]\.credentials\[0\]/);
  t.is(run.stderr.trim().split('\n').length, 1, 'one line');
});
