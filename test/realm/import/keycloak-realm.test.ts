// The Keycloak realm-export importer (src/realm/import/keycloak-realm.ts).
// Method: parse the Keycloak 26 export fixture of realm `acme`
// (test/fixtures/keycloak, made by make-fixture.mjs; passwords in its README)
// and spot-check the records; verify a hashed credential with pbkdf2Sync;
// then mutate a small valid realm one field at a time and check that each
// invalid input fails with the right JSON path and reason.
import test from 'ava';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadRealmDirectory,
  mergeUserFiles,
  parseKeycloakRealm,
  readRealmDirectory,
  RealmImportError,
  type ParsedRealm,
} from '../../../src/realm/import/keycloak-realm.js';
import type { ClientRecord, UserRecord } from '../../../src/realm/model.js';

// dist/test/realm/import/<this>.js → repo root is four levels up.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/keycloak/', import.meta.url));
const NOW = 1_800_000_000_000;

/** From test/fixtures/keycloak/README.md. */
const PASSWORDS: Record<string, string> = {
  'jane.doe': 'Jane-Acme-2024!',
  'john.smith': 'John-Acme-2024!',
  'mary.major': 'Mary-Acme-2024!',
  'old.timer': 'Old-Acme-2019!',
};

async function fixtureJson(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
}

let acmeCache: { json: Record<string, unknown>; parsed: ParsedRealm } | undefined;
async function acme(): Promise<{ json: Record<string, unknown>; parsed: ParsedRealm }> {
  if (acmeCache === undefined) {
    const json = await fixtureJson('acme-realm.json');
    acmeCache = { json, parsed: parseKeycloakRealm(json, 'acme-realm.json', { now: NOW }) };
  }
  return acmeCache;
}

function clientOf(p: ParsedRealm, clientId: string): ClientRecord {
  const c = p.bundle.clients.find((x) => x.clientId === clientId);
  if (c === undefined) throw new Error(`no client ${clientId}`);
  return c;
}

function userOf(p: ParsedRealm, username: string): UserRecord {
  const u = p.bundle.users.find((x) => x.username === username);
  if (u === undefined) throw new Error(`no user ${username}`);
  return u;
}

test('fixture: realm fields, §2.1 session settings, events, keys and limits', async (t) => {
  const { json, parsed } = await acme();
  const r = parsed.bundle.realm;
  t.is(r.id, json['id'] as string);
  t.is(r.name, 'acme');
  t.is(r.displayName, 'ACME Corp');
  t.true(r.enabled);
  t.is(r.defaultSignatureAlgorithm, 'ES256');
  t.is(r.passwordPolicy, 'length(12) and hashAlgorithm(pbkdf2-sha512) and hashIterations(210000) and notUsername(undefined)');
  t.is(r.createdTimestamp, NOW);
  t.deepEqual(r.sessions, {
    ssoSessionIdleTimeout: 3600,
    ssoSessionMaxLifespan: 86400,
    ssoSessionIdleTimeoutRememberMe: 604800,
    ssoSessionMaxLifespanRememberMe: 2592000,
    clientSessionIdleTimeout: 1800,
    clientSessionMaxLifespan: 0,
    offlineSessionIdleTimeout: 2592000,
    offlineSessionMaxLifespanEnabled: true,
    offlineSessionMaxLifespan: 5184000,
    clientOfflineSessionIdleTimeout: 0,
    clientOfflineSessionMaxLifespan: 0,
    accessTokenLifespan: 600,
    accessTokenLifespanForImplicitFlow: 900,
    accessCodeLifespan: 60,
    accessCodeLifespanLogin: 1800,
    accessCodeLifespanUserAction: 600,
    actionTokenGeneratedByUserLifespan: 600,
    actionTokenGeneratedByAdminLifespan: 43200,
    revokeRefreshToken: true,
    refreshTokenMaxReuse: 1,
    notBefore: 0,
    rememberMe: true,
  });
  t.deepEqual(r.events, {
    eventsEnabled: true,
    enabledEventTypes: ['LOGIN', 'LOGIN_ERROR', 'LOGOUT', 'CODE_TO_TOKEN', 'REFRESH_TOKEN', 'CLIENT_LOGIN'],
    eventsExpiration: 604800,
    adminEventsEnabled: true,
    adminEventsDetailsEnabled: true,
  });
  // The browser flow's `forms` sub-flow runs user-session-limits with config "acme session limits".
  t.deepEqual(r.userSessionLimits, { realmLimit: 3, clientLimit: 0, behavior: 'terminate_oldest' });
  t.is(r.attributes['cibaExpiresIn'], '120');
  t.is(r.attributes['acr.loa.map'], '{}');
  t.true(parsed.notes.includes('exported by Keycloak 26.0.7'));
});

test('fixture: clients keep their ids and fields; defaults fill only what the file leaves out', async (t) => {
  const { json, parsed } = await acme();
  const fileClients = json['clients'] as { clientId: string; id: string }[];
  t.is(parsed.bundle.clients.length, fileClients.length, 'every built-in client is in the file already');
  for (const fc of fileClients) t.is(clientOf(parsed, fc.clientId).id, fc.id);

  const web = clientOf(parsed, 'acme-web');
  t.is(web.realmId, parsed.bundle.realm.id);
  t.is(web.name, 'ACME web portal');
  t.is(web.description, 'Server-rendered portal, confidential');
  t.is(web.secret, 'acme-web-secret-5f0c1d');
  t.false(web.publicClient);
  t.false(web.bearerOnly);
  t.true(web.standardFlowEnabled);
  t.true(web.directAccessGrantsEnabled);
  t.false(web.implicitFlowEnabled);
  t.false(web.serviceAccountsEnabled);
  t.true(web.fullScopeAllowed);
  t.is(web.rootUrl, 'https://app.acme.example');
  t.is(web.adminUrl, 'https://app.acme.example/admin');
  t.is(web.baseUrl, '/');
  t.deepEqual(web.redirectUris, ['https://app.acme.example/*', 'https://app.acme.example/callback']);
  t.deepEqual(web.webOrigins, ['https://app.acme.example']);
  t.is(web.attributes['access.token.lifespan'], '900');
  t.is(web.attributes['backchannel.logout.url'], 'https://app.acme.example/logout/backchannel');
  t.is(web.attributes['post.logout.redirect.uris'], 'https://app.acme.example/*');
  t.deepEqual(web.defaultClientScopes, ['web-origins', 'acr', 'profile', 'roles', 'basic', 'email']);
  t.deepEqual(web.roles.map((r) => r.name), ['editor', 'viewer']);
  for (const r of web.roles) {
    t.is(r.containerId, web.id);
    t.true(r.clientRole);
  }

  const spa = clientOf(parsed, 'acme-spa');
  t.true(spa.publicClient);
  t.true(spa.frontchannelLogout);
  t.is(spa.secret, null);
  t.is(spa.attributes['pkce.code.challenge.method'], 'S256');

  const backend = clientOf(parsed, 'acme-backend');
  t.true(backend.serviceAccountsEnabled);
  t.false(backend.standardFlowEnabled);
  t.is(backend.secret, 'acme-backend-secret-2e1f9a');
  // Absent in the file: Keycloak's import sets "+".
  t.is(backend.attributes['post.logout.redirect.uris'], '+');

  const rm = clientOf(parsed, 'realm-management');
  t.true(rm.bearerOnly);
  t.is(rm.roles.length, 19);
  const fileRm = (json['roles'] as { client: Record<string, { name: string; id: string }[]> }).client['realm-management']!;
  for (const fr of fileRm) t.is(rm.roles.find((r) => r.name === fr.name)!.id, fr.id, `${fr.name} keeps its id`);
  const viewUsers = rm.roles.find((r) => r.name === 'view-users')!;
  t.deepEqual(viewUsers.composites, { realm: [], client: { 'realm-management': ['query-users', 'query-groups'] } });

  t.true(clientOf(parsed, 'admin-cli').directAccessGrantsEnabled);
});

test('fixture: realm roles and their composites', async (t) => {
  const { parsed } = await acme();
  t.deepEqual(parsed.bundle.roles.map((r) => r.name), ['offline_access', 'uma_authorization', 'default-roles-acme', 'acme-admin', 'acme-user']);
  const admin = parsed.bundle.roles.find((r) => r.name === 'acme-admin')!;
  t.is(admin.description, 'ACME administrators');
  t.true(admin.composite);
  t.deepEqual(admin.composites, { realm: [], client: { 'realm-management': ['view-users', 'view-realm'], 'acme-web': ['editor'] } });
  t.is(admin.containerId, parsed.bundle.realm.id);
  t.false(parsed.bundle.roles.find((r) => r.name === 'acme-user')!.composite);
});

test('fixture: users (lower-cased names and emails, roles, attributes, flags, credentials)', async (t) => {
  const { json, parsed } = await acme();
  t.deepEqual(parsed.bundle.users.map((u) => u.username), ['jane.doe', 'john.smith', 'mary.major', 'old.timer', 'service-account-acme-backend']);
  const fileUsers = json['users'] as { id: string }[];
  parsed.bundle.users.forEach((u, i) => t.is(u.id, fileUsers[i]!.id));

  const jane = userOf(parsed, 'jane.doe');
  t.is(jane.realmId, parsed.bundle.realm.id);
  t.is(jane.email, 'jane.doe@acme.example');
  t.true(jane.emailVerified);
  t.is(jane.firstName, 'Jane');
  t.is(jane.lastName, 'Doe');
  t.true(jane.enabled);
  t.is(jane.createdTimestamp, 1718000001000);
  t.is(jane.notBefore, 0);
  t.deepEqual(jane.realmRoles, ['default-roles-acme', 'acme-admin', 'acme-user']);
  t.deepEqual(jane.clientRoles, { 'realm-management': ['view-users', 'view-realm'], 'acme-web': ['editor'] });
  t.deepEqual(jane.attributes, { department: ['engineering'], employeeNumber: ['1001'], locale: ['en'] });
  t.is(jane.credentials.length, 1, 'the OTP credential is skipped');
  const cred = jane.credentials[0]!;
  t.is(cred.type, 'password');
  t.is(cred.algorithm, 'pbkdf2-sha512');
  t.is(cred.iterations, 210_000);
  t.is(cred.userLabel, 'My password');
  t.is(cred.createdDate, 1718000001500);
  t.is(Buffer.from(cred.salt, 'base64').length, 16);
  t.is(Buffer.from(cred.hash, 'base64').length, 64);
  t.true(parsed.notes.some((n) => n.startsWith('skipped credentials of type "otp": 1 (first at $.users[0].credentials[1])')));

  const john = userOf(parsed, 'john.smith');
  t.is(john.email, 'john.smith@acme.example', 'Keycloak stores emails lower-cased');
  t.is(john.notBefore, 1718100000);
  t.is(john.credentials[0]!.userLabel, null);

  const mary = userOf(parsed, 'mary.major');
  t.deepEqual(mary.credentials, []);
  t.deepEqual(mary.requiredActions, ['VERIFY_EMAIL']);
  t.deepEqual(mary.realmRoles, ['default-roles-acme', 'offline_access']);
  t.deepEqual(parsed.bundle.plainPasswords, [{ userId: mary.id, password: PASSWORDS['mary.major'], temporary: false }]);

  const old = userOf(parsed, 'old.timer');
  t.false(old.enabled);
  t.is(old.credentials[0]!.algorithm, 'pbkdf2-sha256');
  t.is(old.credentials[0]!.iterations, 27_500);

  const sa = userOf(parsed, 'service-account-acme-backend');
  t.is(sa.serviceAccountClientId, 'acme-backend');
  t.deepEqual(sa.clientRoles, { 'realm-management': ['query-users'] });
  t.deepEqual(sa.credentials, []);
});

test('fixture: every hashed password verifies with pbkdf2Sync against its recorded password', async (t) => {
  const { parsed } = await acme();
  const digests: Record<string, string> = { 'pbkdf2-sha512': 'sha512', 'pbkdf2-sha256': 'sha256', pbkdf2: 'sha1' };
  let checked = 0;
  for (const u of parsed.bundle.users) {
    for (const c of u.credentials) {
      const expected = Buffer.from(c.hash, 'base64');
      const derived = pbkdf2Sync(Buffer.from(PASSWORDS[u.username]!, 'utf8'), Buffer.from(c.salt, 'base64'), c.iterations, expected.length, digests[c.algorithm]!);
      t.true(derived.equals(expected), `${u.username} (${c.algorithm})`);
      const wrong = pbkdf2Sync('not-the-password', Buffer.from(c.salt, 'base64'), c.iterations, expected.length, digests[c.algorithm]!);
      t.false(wrong.equals(expected));
      checked++;
    }
  }
  t.is(checked, 3);
});

test('fixture: fields sessiond does not use are reported once each, indices folded', async (t) => {
  const { parsed } = await acme();
  for (const path of [
    '$.sslRequired',
    '$.otpPolicyType',
    '$.components',
    '$.identityProviders',
    '$.scopeMappings',
    '$.clients[0].surrogateAuthRequired',
    '$.clients[0].clientAuthenticatorType',
    '$.clients[1].protocolMappers',
    '$.roles.realm[0].attributes',
    '$.users[0].totp',
    '$.users[0].groups',
  ]) {
    t.true(parsed.ignored.includes(path), path);
  }
  for (const path of ['$.realm', '$.bruteForceProtected', '$.users', '$.clients', '$.roles', '$.attributes', '$.clients[0].clientId', '$.users[1].totp', '$.clients[2].surrogateAuthRequired']) {
    t.false(parsed.ignored.includes(path), path);
  }
  t.is(new Set(parsed.ignored).size, parsed.ignored.length);

  const capped = parseKeycloakRealm((await acme()).json, 'acme-realm.json', { ignoredMax: 5 });
  t.is(capped.ignored.length, 5);
  t.true(capped.notes.some((n) => /^\d+ more ignored fields not listed$/.test(n)));
});

test('separate user files (kc.sh export --users different_files) merge into the realm', async (t) => {
  const split = join(FIXTURES, 'split');
  const files = await readRealmDirectory(split);
  t.deepEqual(files.map((f) => f.file), ['acme-realm.json', 'acme-users-0.json', 'acme-users-1.json'].map((n) => join(split, n)));
  const docs = mergeUserFiles(files);
  t.is(docs.length, 1);
  t.deepEqual(docs[0]!.userFiles.map((f) => f.file), [join(split, 'acme-users-0.json'), join(split, 'acme-users-1.json')]);

  const [loaded] = await loadRealmDirectory(split, { now: NOW });
  const { parsed } = await acme();
  t.deepEqual(loaded!.bundle.users, parsed.bundle.users);
  t.deepEqual(loaded!.bundle.plainPasswords, parsed.bundle.plainPasswords);
  t.deepEqual(loaded!.bundle.realm, parsed.bundle.realm);
  t.true(loaded!.ignored.includes('acme-users-0.json: $.users[0].totp'));
  t.true(loaded!.notes.some((n) => n.includes('(first at acme-users-0.json: $.users[0].credentials[1])')));
});

test('user files: files for an unknown realm, and a realm defined twice, are refused', (t) => {
  const realm = { file: 'a-realm.json', json: { realm: 'a' } };
  let err = t.throws(() => mergeUserFiles([realm, { file: 'b-users-0.json', json: { realm: 'b', users: [] } }]), { instanceOf: RealmImportError })!;
  t.is(err.message, 'b-users-0.json: $.realm: no realm file for realm "b" was found');
  err = t.throws(() => mergeUserFiles([realm, { file: 'again.json', json: { realm: 'a' } }]), { instanceOf: RealmImportError })!;
  t.is(err.path, '$.realm');
  t.is(err.file, 'again.json');

  // A user file whose realm field disagrees with the realm it was handed to.
  err = t.throws(
    () => parseKeycloakRealm({ realm: 'a' }, 'a-realm.json', { userFiles: [{ file: 'dir/a-users-0.json', json: { realm: 'b', users: [] } }] }),
    { instanceOf: RealmImportError },
  )!;
  t.is(err.file, 'dir/a-users-0.json');
  t.is(err.path, '$.realm');
});

test('users across files share duplicate checks, and errors name the user file', (t) => {
  const err = t.throws(
    () =>
      parseKeycloakRealm({ realm: 'a', users: [{ username: 'x' }] }, 'a-realm.json', {
        userFiles: [{ file: 'a-users-0.json', json: { realm: 'a', users: [{ username: 'y' }, { username: 'X' }] } }],
      }),
    { instanceOf: RealmImportError },
  )!;
  t.is(err.message, 'a-users-0.json: $.users[1].username: duplicate username "x" (first at $.users[0])');
});

test('an array of realms (kc.sh export --file) becomes one document per realm, errors at $[i]', (t) => {
  const docs = mergeUserFiles([{ file: 'all.json', json: [{ realm: 'one' }, { realm: 'two', accessTokenLifespan: 'x' }] }]);
  t.deepEqual(docs.map((d) => d.root), ['$[0]', '$[1]']);
  t.is(parseKeycloakRealm(docs[0]!.json, docs[0]!.file, { root: docs[0]!.root }).bundle.realm.name, 'one');
  const err = t.throws(() => parseKeycloakRealm(docs[1]!.json, docs[1]!.file, { root: docs[1]!.root }), { instanceOf: RealmImportError })!;
  t.is(err.path, '$[1].accessTokenLifespan');
});

test('readRealmDirectory: name order, *.json only, syntax errors with line and column', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sessiond-realms-'));
  try {
    await writeFile(join(dir, 'b.json'), '{"realm":"b"}');
    await writeFile(join(dir, 'a.json'), '\uFEFF{"realm":"a"}');
    await writeFile(join(dir, 'notes.txt'), 'not json');
    const files = await readRealmDirectory(dir);
    t.deepEqual(files.map((f) => f.file), [join(dir, 'a.json'), join(dir, 'b.json')]);
    t.deepEqual(files[0]!.json, { realm: 'a' }, 'a byte-order mark is tolerated');

    // V8 names a position for this one ...
    await writeFile(join(dir, 'c.json'), '{\n  "realm": "c",\n  "enabled": true,\n}\n');
    let err = await t.throwsAsync(readRealmDirectory(dir), { instanceOf: RealmImportError });
    t.is(err!.file, join(dir, 'c.json'));
    t.is(err!.line, 4);
    t.is(err!.column, 1);
    t.is(err!.path, 'line 4, column 1');
    t.regex(err!.reason, /^invalid JSON: /);
    t.is(err!.message, `${join(dir, 'c.json')}: line 4, column 1: ${err!.reason}`);

    // ... but not for an unexpected token: the scanner finds it.
    await writeFile(join(dir, 'c.json'), '{\n  "realm": "c",\n  "enabled": tru\n}\n');
    err = await t.throwsAsync(readRealmDirectory(dir), { instanceOf: RealmImportError });
    t.is(err!.line, 3);
    t.is(err!.column, 17, 'where "tru" stops matching "true"');
    t.false(err!.reason.includes('"realm"'), 'the input is not quoted back');

    await writeFile(join(dir, 'c.json'), '{"realm": "c"');
    err = await t.throwsAsync(readRealmDirectory(dir), { instanceOf: RealmImportError });
    t.deepEqual([err!.line, err!.column], [1, 14]);

    await t.throwsAsync(readRealmDirectory(join(dir, 'missing')), { instanceOf: RealmImportError, message: /cannot read the directory/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ minimal files and defaults

test('a minimal realm gets Keycloak import defaults and the built-in clients and roles', (t) => {
  const p = parseKeycloakRealm({ realm: 'tiny' }, 'tiny.json', { now: NOW });
  const r = p.bundle.realm;
  t.regex(r.id, /^[0-9a-f-]{36}$/, 'RealmManager.importRealm: a fresh UUID, not the name');
  t.false(r.enabled, 'absent "enabled" is false, as in Keycloak');
  t.true(p.notes.some((n) => n.includes('imported disabled')));
  t.is(r.displayName, null);
  t.is(r.defaultSignatureAlgorithm, 'RS256');
  t.is(r.passwordPolicy, '');
  t.is(r.sessions.accessTokenLifespan, 300);
  t.is(r.userSessionLimits, null);
  t.deepEqual(r.attributes, {});
  t.deepEqual(p.bundle.clients.map((c) => c.clientId).sort(), ['account', 'account-console', 'admin-cli', 'broker', 'realm-management', 'security-admin-console']);
  t.deepEqual(p.bundle.roles.map((x) => x.name).sort(), ['default-roles-tiny', 'offline_access', 'uma_authorization']);
  t.deepEqual(p.ignored, []);
});

test('the master realm defaults to 60 s access tokens; the user action token lifespan follows accessCodeLifespanUserAction', (t) => {
  t.is(parseKeycloakRealm({ realm: 'master' }, 'm.json').bundle.realm.sessions.accessTokenLifespan, 60);
  t.is(parseKeycloakRealm({ realm: 'master', accessTokenLifespan: 120 }, 'm.json').bundle.realm.sessions.accessTokenLifespan, 120);
  const s = parseKeycloakRealm({ realm: 'x', accessCodeLifespanUserAction: 900 }, 'x.json').bundle.realm.sessions;
  t.is(s.actionTokenGeneratedByUserLifespan, 900);
  t.is(parseKeycloakRealm({ realm: 'x' }, 'x.json').bundle.realm.sessions.actionTokenGeneratedByUserLifespan, 300);
});

test('a client with only a clientId: enabled, standard flow, confidential with a generated secret', (t) => {
  const p = parseKeycloakRealm({ realm: 'x', clients: [{ clientId: 'app', redirectUris: ['https://a.example:8443/cb/*', 'myapp:/cb'] }] }, 'x.json');
  const c = clientOf(p, 'app');
  t.regex(c.id, /^[0-9a-f-]{36}$/);
  t.true(c.enabled);
  t.true(c.standardFlowEnabled);
  t.false(c.directAccessGrantsEnabled);
  t.false(c.implicitFlowEnabled);
  t.false(c.publicClient);
  t.false(c.bearerOnly);
  t.false(c.consentRequired);
  t.false(c.frontchannelLogout);
  t.true(c.fullScopeAllowed);
  t.is(c.protocol, 'openid-connect');
  t.regex(c.secret!, /^[A-Za-z0-9]{32}$/);
  t.true(p.notes.some((n) => n.includes('generated client secrets') && n.includes('app')));
  t.deepEqual(c.webOrigins, ['https://a.example:8443'], 'derived from http(s) redirect URIs');
  t.is(c.attributes['post.logout.redirect.uris'], '+');
  t.deepEqual(c.defaultClientScopes, ['web-origins', 'acr', 'profile', 'roles', 'basic', 'email']);
  t.is(c.notBefore, 0);
});

test('client defaults that depend on other fields', (t) => {
  const p = parseKeycloakRealm(
    {
      realm: 'x',
      defaultDefaultClientScopes: ['role_list', 'profile'],
      clientScopes: [{ name: 'role_list', protocol: 'saml' }, { name: 'profile', protocol: 'openid-connect' }],
      clients: [
        { clientId: 'consent', consentRequired: true, publicClient: true },
        { clientId: 'masked', secret: '**********' },
        { clientId: 'legacy', directGrantsOnly: true },
        { clientId: 'typed', attributes: { 'access.token.lifespan': 600, 'use.refresh.tokens': false, gone: null }, notBefore: '17' },
        { clientId: 'saml-app', protocol: 'saml' },
      ],
    },
    'x.json',
  );
  t.false(clientOf(p, 'consent').fullScopeAllowed, 'fullScopeAllowed = !consentRequired');
  t.is(clientOf(p, 'consent').secret, null);
  const masked = clientOf(p, 'masked').secret!;
  t.not(masked, '**********');
  t.regex(masked, /^[A-Za-z0-9]{32}$/);
  t.false(clientOf(p, 'legacy').standardFlowEnabled);
  t.true(clientOf(p, 'legacy').directAccessGrantsEnabled);
  const typed = clientOf(p, 'typed');
  t.deepEqual(typed.attributes, { 'access.token.lifespan': '600', 'use.refresh.tokens': 'false', 'post.logout.redirect.uris': '+' });
  t.is(typed.notBefore, 17);
  t.deepEqual(typed.defaultClientScopes, ['profile'], 'only scopes of the client protocol');
  t.deepEqual(clientOf(p, 'saml-app').defaultClientScopes, ['role_list']);
});

test('Jackson-style coercion: numeric and boolean strings are accepted', (t) => {
  const r = parseKeycloakRealm({ realm: 'x', enabled: 'true', accessTokenLifespan: '120', rememberMe: 'false' }, 'x.json').bundle.realm;
  t.true(r.enabled);
  t.is(r.sessions.accessTokenLifespan, 120);
  t.false(r.sessions.rememberMe);
});

test('users: absent enabled is false, createdTimestamp defaults to now, temporary passwords require UPDATE_PASSWORD', (t) => {
  const p = parseKeycloakRealm(
    {
      realm: 'x',
      users: [
        { username: 'Plain', credentials: [{ type: 'password', value: 'pw', temporary: true }], requiredActions: ['update_password', 'CONFIGURE_TOTP', 'custom-action'] },
        { username: 'attrs', enabled: true, attributes: { one: 'single', many: ['a', 2, true], none: null } },
      ],
    },
    'x.json',
    { now: NOW },
  );
  const plain = userOf(p, 'plain');
  t.false(plain.enabled);
  t.is(plain.createdTimestamp, NOW);
  t.regex(plain.id, /^[0-9a-f-]{36}$/);
  t.deepEqual(plain.requiredActions, ['UPDATE_PASSWORD', 'CONFIGURE_TOTP', 'custom-action']);
  t.deepEqual(p.bundle.plainPasswords, [{ userId: plain.id, password: 'pw', temporary: true }]);
  t.deepEqual(userOf(p, 'attrs').attributes, { one: ['single'], many: ['a', '2', 'true'] });
});

test('roles given to a built-in client the file does not list replace the built-in ones, keeping the file ids', (t) => {
  const p = parseKeycloakRealm(
    {
      realm: 'x',
      roles: { client: { 'realm-management': [{ id: 'vu-id', name: 'view-users', description: 'custom' }] } },
      users: [{ username: 'u', clientRoles: { 'realm-management': ['view-users', 'manage-users'] } }],
    },
    'x.json',
  );
  const rm = clientOf(p, 'realm-management');
  const vu = rm.roles.filter((r) => r.name === 'view-users');
  t.is(vu.length, 1);
  t.is(vu[0]!.id, 'vu-id');
  t.is(vu[0]!.containerId, rm.id);
  t.is(rm.roles.length, 19);
});

test('a service-account client without its user gets one; a same-named unlinked user is refused', (t) => {
  const p = parseKeycloakRealm({ realm: 'x', clients: [{ clientId: 'Svc', serviceAccountsEnabled: true, secret: 's' }] }, 'x.json');
  const sa = userOf(p, 'service-account-svc');
  t.is(sa.serviceAccountClientId, 'Svc');
  t.deepEqual(sa.realmRoles, ['default-roles-x']);
  t.true(p.notes.some((n) => n.includes('service-account user')));

  const err = t.throws(
    () => parseKeycloakRealm({ realm: 'x', clients: [{ clientId: 'svc', serviceAccountsEnabled: true }], users: [{ username: 'service-account-svc' }] }, 'x.json'),
    { instanceOf: RealmImportError },
  )!;
  t.is(err.path, '$.clients[0].serviceAccountsEnabled');
});

// ------------------------------------------------------------------ credentials

const SALT = randomBytes(16);
const HASH = pbkdf2Sync('pw', SALT, 1000, 64, 'sha512');
function hashed(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cred-1',
    type: 'password',
    createdDate: 1700000000000,
    secretData: JSON.stringify({ value: HASH.toString('base64'), salt: SALT.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({ hashIterations: 1000, algorithm: 'pbkdf2-sha512', additionalParameters: {} }),
    ...extra,
  };
}

test('a hashed credential becomes a PasswordCredential', (t) => {
  const p = parseKeycloakRealm({ realm: 'x', users: [{ username: 'u', credentials: [hashed({ priority: 10 })] }] }, 'x.json');
  t.deepEqual(userOf(p, 'u').credentials, [
    { id: 'cred-1', type: 'password', algorithm: 'pbkdf2-sha512', iterations: 1000, salt: SALT.toString('base64'), hash: HASH.toString('base64'), createdDate: 1700000000000, userLabel: null },
  ]);
  t.true(p.ignored.includes('$.users[0].credentials[0].priority'));
});

test('pre-Keycloak-7 credential fields are converted as Keycloak converts them', (t) => {
  const rep = { type: 'password', hashedSaltedValue: HASH.toString('base64'), salt: SALT.toString('base64'), hashIterations: 1000, algorithm: 'pbkdf2-sha512' };
  const p = parseKeycloakRealm({ realm: 'x', users: [{ username: 'u', credentials: [rep] }] }, 'x.json', { now: NOW });
  const c = userOf(p, 'u').credentials[0]!;
  t.is(c.hash, HASH.toString('base64'));
  t.is(c.iterations, 1000);
  t.is(c.createdDate, NOW);
});

test('argon2 hashes (Keycloak 25+ default) are imported with their parameters', (t) => {
  const argon = hashed({
    credentialData: JSON.stringify({ hashIterations: 5, algorithm: 'argon2', additionalParameters: { hashLength: ['32'], memory: ['7168'], type: ['id'], version: ['1.3'], parallelism: ['1'] } }),
  });
  const p = parseKeycloakRealm({ realm: 'x', users: [{ username: 'u', credentials: [argon] }] }, 'x.json');
  const c = userOf(p, 'u').credentials[0]!;
  t.is(c.algorithm, 'argon2');
  t.is(c.iterations, 5);
  t.deepEqual(c.argon2, { type: 'id', version: '1.3', hashLength: 32, memory: 7168, parallelism: 1 });
});

test('hashes of an algorithm sessiond lacks (a custom provider) are skipped with a note, not refused', (t) => {
  const bcrypt = hashed({ credentialData: JSON.stringify({ hashIterations: 10, algorithm: 'bcrypt', additionalParameters: {} }) });
  const p = parseKeycloakRealm({ realm: 'x', users: [{ username: 'u', credentials: [bcrypt] }, { username: 'v', credentials: [bcrypt] }] }, 'x.json');
  t.deepEqual(userOf(p, 'u').credentials, []);
  t.true(p.notes.some((n) => n.includes('"bcrypt"') && n.includes(': 2 (first at $.users[0].credentials[0])')));
});

// ------------------------------------------------------------------ invalid input

function valid(): Record<string, unknown> {
  return {
    realm: 'test',
    enabled: true,
    clients: [{ clientId: 'app', secret: 's', attributes: {}, redirectUris: ['https://a/*'] }],
    roles: { realm: [{ name: 'r1' }] },
    users: [{ username: 'u1', realmRoles: ['r1'], credentials: [hashed()] }],
  };
}

type Mutation = (r: Record<string, unknown>) => unknown;
const at = (r: Record<string, unknown>, key: string): Record<string, unknown>[] => r[key] as Record<string, unknown>[];

const INVALID: [string, Mutation, string, string][] = [
  ['not an object', () => [1, 2], '$', 'must be a JSON object, got array'],
  ['missing realm name', (r) => (delete r['realm'], r), '$.realm', 'the realm name is missing'],
  ['blank realm name', (r) => ((r['realm'] = ' '), r), '$.realm', 'the realm name is missing'],
  ['realm name of the wrong type', (r) => ((r['realm'] = 7), r), '$.realm', 'must be a string, got number'],
  ['realm name with a slash', (r) => ((r['realm'] = 'a/b'), r), '$.realm', 'reserved character'],
  ['non-integer lifespan', (r) => ((r['accessTokenLifespan'] = 1.5), r), '$.accessTokenLifespan', 'must be an integer, got 1.5'],
  ['lifespan as text', (r) => ((r['ssoSessionIdleTimeout'] = 'long'), r), '$.ssoSessionIdleTimeout', 'must be an integer, got string'],
  ['boolean as text', (r) => ((r['rememberMe'] = 'yes'), r), '$.rememberMe', 'must be a boolean, got string'],
  ['unsupported signature algorithm', (r) => ((r['defaultSignatureAlgorithm'] = 'HS256'), r), '$.defaultSignatureAlgorithm', 'unsupported signature algorithm "HS256"'],
  ['password policy naming bcrypt', (r) => ((r['passwordPolicy'] = 'length(8) and hashAlgorithm(bcrypt)'), r), '$.passwordPolicy', 'unsupported hashAlgorithm "bcrypt"'],
  ['event types not strings', (r) => ((r['enabledEventTypes'] = ['LOGIN', 3]), r), '$.enabledEventTypes[1]', 'must be a string, got number'],
  ['realm attribute object', (r) => ((r['attributes'] = { 'a.b': {} }), r), '$.attributes["a.b"]', 'must be a string, got object'],
  ['clients not an array', (r) => ((r['clients'] = {}), r), '$.clients', 'must be an array, got object'],
  ['client not an object', (r) => ((r['clients'] = ['app']), r), '$.clients[0]', 'a client must be an object'],
  ['client without clientId', (r) => (delete at(r, 'clients')[0]!['clientId'], r), '$.clients[0].clientId', 'clientId is required'],
  ['duplicate clientId', (r) => (at(r, 'clients').push({ clientId: 'app' }), r), '$.clients[1].clientId', 'duplicate clientId "app" (first at $.clients[0])'],
  ['duplicate client id', (r) => ((at(r, 'clients')[0]!['id'] = 'c1'), at(r, 'clients').push({ id: 'c1', clientId: 'b' }), r), '$.clients[1].id', 'duplicate client id "c1"'],
  ['client redirect URI not a string', (r) => ((at(r, 'clients')[0]!['redirectUris'] = ['https://a/*', 5]), r), '$.clients[0].redirectUris[1]', 'must be a string, got number'],
  ['client attribute array', (r) => ((at(r, 'clients')[0]!['attributes'] = { 'pkce.code.challenge.method': ['S256'] }), r), '$.clients[0].attributes["pkce.code.challenge.method"]', 'must be a string, got array'],
  ['client flag of the wrong type', (r) => ((at(r, 'clients')[0]!['publicClient'] = 1), r), '$.clients[0].publicClient', 'must be a boolean, got number'],
  ['duplicate realm role', (r) => ((r['roles'] = { realm: [{ name: 'r1' }, { name: 'r1' }] }), r), '$.roles.realm[1].name', 'duplicate realm role "r1"'],
  ['role without a name', (r) => ((r['roles'] = { realm: [{ description: 'x' }] }), r), '$.roles.realm[0].name', 'the role name is missing'],
  ['composite naming an unknown realm role', (r) => ((r['roles'] = { realm: [{ name: 'r1', composite: true, composites: { realm: ['nope'] } }] }), r), '$.roles.realm[0].composites.realm[0]', 'unknown realm role "nope"'],
  ['composite naming an unknown client role', (r) => ((r['roles'] = { realm: [{ name: 'r1', composites: { client: { app: ['nope'] } } }] }), r), '$.roles.realm[0].composites.client.app[0]', 'unknown role "nope" of client "app"'],
  ['client roles for an unknown client', (r) => ((r['roles'] = { realm: [{ name: 'r1' }], client: { nope: [{ name: 'x' }] } }), r), '$.roles.client.nope', 'roles for client "nope", which the realm does not have'],
  ['user without username', (r) => (delete at(r, 'users')[0]!['username'], r), '$.users[0].username', 'the username is missing'],
  ['duplicate username (case-insensitive)', (r) => (at(r, 'users').push({ username: 'U1' }), r), '$.users[1].username', 'duplicate username "u1" (first at $.users[0])'],
  ['duplicate user id', (r) => ((at(r, 'users')[0]!['id'] = 'id1'), at(r, 'users').push({ id: 'id1', username: 'u2' }), r), '$.users[1].id', 'duplicate user id "id1" (first at $.users[0])'],
  ['unknown realm role on a user', (r) => ((at(r, 'users')[0]!['realmRoles'] = ['r1', 'admin']), r), '$.users[0].realmRoles[1]', 'unknown realm role "admin"'],
  ['client roles of an unknown client', (r) => ((at(r, 'users')[0]!['clientRoles'] = { nope: ['x'] }), r), '$.users[0].clientRoles.nope', 'unknown client "nope"'],
  ['unknown client role', (r) => ((at(r, 'users')[0]!['clientRoles'] = { 'realm-management': ['view-everything'] }), r), '$.users[0].clientRoles["realm-management"][0]', 'unknown role "view-everything" of client "realm-management"'],
  ['service account of an unknown client', (r) => ((at(r, 'users')[0]!['serviceAccountClientId'] = 'nope'), r), '$.users[0].serviceAccountClientId', 'unknown client "nope"'],
  ['user attribute object', (r) => ((at(r, 'users')[0]!['attributes'] = { a: { b: 1 } }), r), '$.users[0].attributes.a', 'must be an array of strings'],
  ['enabled of the wrong type', (r) => ((at(r, 'users')[0]!['enabled'] = 'maybe'), r), '$.users[0].enabled', 'must be a boolean, got string'],
  ['credential without type', (r) => ((at(r, 'users')[0]!['credentials'] = [{ value: 'x' }]), r), '$.users[0].credentials[0].type', 'the credential type is missing'],
  ['secretData not JSON', (r) => ((at(r, 'users')[0]!['credentials'] = [hashed({ secretData: '{value' })]), r), '$.users[0].credentials[0].secretData', 'is not valid JSON'],
  ['salt not base64', (r) => ((at(r, 'users')[0]!['credentials'] = [hashed({ secretData: JSON.stringify({ value: HASH.toString('base64'), salt: 'not base64!' }) })]), r), '$.users[0].credentials[0].secretData', '"salt" is not non-empty standard base64'],
  ['iterations not a number', (r) => ((at(r, 'users')[0]!['credentials'] = [hashed({ credentialData: JSON.stringify({ hashIterations: 'many', algorithm: 'pbkdf2-sha512' }) })]), r), '$.users[0].credentials[0].credentialData', '"hashIterations" must be an integer'],
  ['credentialData missing', (r) => ((at(r, 'users')[0]!['credentials'] = [hashed({ credentialData: undefined })]), r), '$.users[0].credentials[0].credentialData', 'is missing'],
  ['two passwords', (r) => ((at(r, 'users')[0]!['credentials'] = [hashed(), { type: 'password', value: 'x' }]), r), '$.users[0].credentials[1]', 'a second password credential (the first is at $.users[0].credentials[0])'],
  ['empty plain password', (r) => ((at(r, 'users')[0]!['credentials'] = [{ type: 'password', value: '' }]), r), '$.users[0].credentials[0].value', 'the password is empty'],
  [
    'session-limit authenticator with an unknown behavior',
    (r) => (
      (r['authenticationFlows'] = [{ alias: 'browser', authenticationExecutions: [{ authenticator: 'user-session-limits', requirement: 'REQUIRED', authenticatorConfig: 'lim' }] }]),
      (r['authenticatorConfig'] = [{ alias: 'lim', config: { behavior: 'Sulk', userRealmLimit: '2' } }]),
      r
    ),
    '$.authenticatorConfig[0].config.behavior',
    'unknown session-limit behavior "Sulk"',
  ],
];

test('the valid base realm of the invalid-input table parses', (t) => {
  t.is(parseKeycloakRealm(valid(), 'test.json').bundle.users.length, 1);
});

for (const [name, mutate, path, reason] of INVALID) {
  test(`invalid: ${name} → ${path}`, (t) => {
    const err = t.throws(() => parseKeycloakRealm(mutate(valid()), 'test.json'), { instanceOf: RealmImportError })!;
    t.is(err.file, 'test.json');
    t.is(err.path, path);
    t.true(err.reason.includes(reason), `reason: ${err.reason}`);
    t.is(err.message, `test.json: ${path}: ${err.reason}`);
    t.is(err.code, 'ERR_REALM_IMPORT');
    t.false(err.message.includes(HASH.toString('base64')), 'never quotes a hash');
  });
}

// ------------------------------------------------------------------ speed

test('100,000 users with hashed credentials parse (the time is logged; npm run bench -- import-users measures it)', (t) => {
  const secretData = hashed()['secretData'];
  const credentialData = hashed()['credentialData'];
  const users = [];
  for (let i = 0; i < 100_000; i++) {
    users.push({
      id: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
      username: `User${i}`,
      email: `user${i}@example.com`,
      emailVerified: true,
      firstName: 'First',
      lastName: `Last${i}`,
      createdTimestamp: 1700000000000 + i,
      enabled: true,
      totp: false,
      attributes: { department: ['d' + (i % 10)] },
      credentials: [{ id: `c-${i}`, type: 'password', createdDate: 1700000000000, secretData, credentialData }],
      disableableCredentialTypes: [],
      requiredActions: [],
      realmRoles: ['default-roles-perf', 'offline_access'],
      clientRoles: { account: ['view-profile'] },
      notBefore: 0,
      groups: [],
    });
  }
  const text = JSON.stringify({ realm: 'perf', enabled: true, users });
  const t0 = performance.now();
  const json: unknown = JSON.parse(text);
  const t1 = performance.now();
  const parsed = parseKeycloakRealm(json, 'perf.json');
  const t2 = performance.now();
  t.is(parsed.bundle.users.length, 100_000);
  t.is(parsed.bundle.users[99_999]!.username, 'user99999');
  t.deepEqual(parsed.ignored, ['$.users[0].totp', '$.users[0].disableableCredentialTypes', '$.users[0].groups']);
  t.log(`JSON.parse ${(text.length / 1e6).toFixed(0)} MB: ${(t1 - t0).toFixed(0)} ms; parseKeycloakRealm: ${(t2 - t1).toFixed(0)} ms`);
});
