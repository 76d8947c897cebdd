// argon2 password hashes as Keycloak 25+ stores them: read from and written
// to Keycloak's credential form with their parameters, verified on the
// hashing pool (checked against the reference implementation's known
// answers), made when a realm's policy says hashAlgorithm(argon2), and
// re-hashed by Keycloak's rule when the policy's parameters differ.

import test from 'ava';
import {
  CredentialFormatError,
  PasswordHasher,
  credentialFromKeycloak,
  credentialToKeycloak,
  parsePasswordPolicy,
} from '../../src/crypto/password-hasher.js';
import type { PasswordCredential } from '../../src/realm/model.js';

let hasher: PasswordHasher;
test.before(async () => {
  hasher = await PasswordHasher.start({ size: 1, nowMs: () => 1_800_000_000_000 });
});
test.after.always(async () => {
  await hasher?.close();
});

/** Keycloak's export form of an argon2 hash. */
function keycloakArgon2(value: string, salt: string, iterations: number, params: Record<string, string>): Record<string, unknown> {
  return {
    id: 'c1',
    type: 'password',
    createdDate: 1_700_000_000_000,
    secretData: JSON.stringify({ value, salt, additionalParameters: {} }),
    credentialData: JSON.stringify({
      hashIterations: iterations,
      algorithm: 'argon2',
      additionalParameters: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [v]])),
    }),
  };
}

// The reference implementation's known answers (phc-winner-argon2 test.c):
// password "password", salt "somesalt", t=2, m=65536 KiB, p=1, 32 bytes.
const SOMESALT = Buffer.from('somesalt').toString('base64');
const KNOWN = [
  { type: 'id', version: '1.3', hash: 'CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc=' },
  { type: 'i', version: '1.3', hash: 'wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA=' },
  { type: 'i', version: '1.0', hash: '9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ=' },
];

for (const known of KNOWN) {
  test(`argon2${known.type} v${known.version} verifies the reference answer`, async (t) => {
    const params = { hashLength: '32', memory: '65536', type: known.type, version: known.version, parallelism: '1' };
    const credential = credentialFromKeycloak(keycloakArgon2(known.hash, SOMESALT, 2, params), 'c');
    t.true(await hasher.verify('password', credential));
    t.false(await hasher.verify('Password', credential));
    t.false(await hasher.verify('password', { ...credential, iterations: 3 }));
  });
}

test('Keycloak form round trip keeps the parameters (member order as Keycloak writes them)', (t) => {
  const params = { hashLength: '64', memory: '19456', type: 'i', version: '1.0', parallelism: '2' };
  const rep = keycloakArgon2(KNOWN[0]!.hash, SOMESALT, 3, params);
  const credential = credentialFromKeycloak(rep, 'c');
  t.deepEqual(credential.argon2, { type: 'i', version: '1.0', hashLength: 64, memory: 19456, parallelism: 2 });
  const back = credentialToKeycloak(credential);
  t.is(back.credentialData, '{"hashIterations":3,"algorithm":"argon2","additionalParameters":{"hashLength":["64"],"memory":["19456"],"type":["i"],"version":["1.0"],"parallelism":["2"]}}');
  t.deepEqual(credentialFromKeycloak(back, 'c'), credential);
  // Missing parameters take Keycloak's defaults, as its provider does.
  t.deepEqual(credentialFromKeycloak(keycloakArgon2(KNOWN[0]!.hash, SOMESALT, 5, {}), 'c').argon2, { type: 'id', version: '1.3', hashLength: 32, memory: 7168, parallelism: 1 });
});

test('unusable argon2 parameters are refused naming the field, never a hang or a huge allocation', (t) => {
  const bad = (params: Record<string, string>, iterations = 5): CredentialFormatError =>
    t.throws(() => credentialFromKeycloak(keycloakArgon2(KNOWN[0]!.hash, SOMESALT, iterations, params), 'users[0].credentials[0]'), { instanceOf: CredentialFormatError })!;
  t.regex(bad({ type: 'x' }).message, /^users\[0\]\.credentials\[0\]\.credentialData: additionalParameters\.type must be id, i or d/);
  t.regex(bad({ version: '2.0' }).message, /version must be 1\.3 or 1\.0/);
  t.regex(bad({ memory: '99999999' }).message, /memory must be from 8 to 1048576/);
  t.regex(bad({ memory: 'lots' }).message, /memory must be an integer/);
  t.regex(bad({ parallelism: '0' }).message, /parallelism must be from 1/);
  t.regex(bad({ hashLength: '2' }).message, /hashLength must be from 4/);
  t.regex(bad({}, 5000).message, /"hashIterations" must be from 1 to 1000/);
});

test('a realm policy with hashAlgorithm(argon2) makes Keycloak-default argon2id hashes', async (t) => {
  const policy = parsePasswordPolicy('length(8) and hashAlgorithm(argon2)');
  const credential = await hasher.hash('s3cret-Pa55', policy);
  t.like(credential, { algorithm: 'argon2', iterations: 5, argon2: { type: 'id', version: '1.3', hashLength: 32, memory: 7168, parallelism: 1 } });
  t.is(Buffer.from(credential.salt, 'base64').length, 16);
  t.is(Buffer.from(credential.hash, 'base64').length, 32);
  t.true(await hasher.verify('s3cret-Pa55', credential));
  t.false(await hasher.verify('s3cret-Pa56', credential));
  // Keycloak's export form reads back to the same record.
  t.deepEqual(credentialFromKeycloak(credentialToKeycloak(credential), 'c'), credential);
});

test("re-hash rule: Keycloak's policyCheck over algorithm, iterations and every argon2 parameter", async (t) => {
  const argonPolicy = parsePasswordPolicy('hashAlgorithm(argon2)');
  const credential = await hasher.hash('pw', argonPolicy);
  t.false(hasher.needsRehash(credential, argonPolicy));
  t.true(hasher.needsRehash(credential, parsePasswordPolicy('hashAlgorithm(argon2) and hashIterations(3)')));
  t.true(hasher.needsRehash({ ...credential, argon2: { ...credential.argon2!, memory: 65536 } }, argonPolicy));
  // sessiond's default policy is pbkdf2-sha512: an argon2 hash moves to it at the next login when a caller re-hashes.
  t.true(hasher.needsRehash(credential, parsePasswordPolicy('')));
  const pbkdf2: PasswordCredential = await hasher.hash('pw', parsePasswordPolicy('hashIterations(1000)'));
  t.true(hasher.needsRehash(pbkdf2, argonPolicy));
});
