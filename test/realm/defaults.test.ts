// What Keycloak's RealmManager puts into a new realm (src/realm/defaults.ts):
// the built-in clients, their roles and composites, the realm roles, and the
// completion an import gets for whatever its file lacks. Method: build
// bundles, then check them against Keycloak's lists and for internal
// consistency (unique ids, every composite member exists).
import test from 'ava';
import {
  ADMIN_CLIENT_ROLES,
  DEFAULT_PASSWORD_HASH,
  completeRealm,
  defaultRoleName,
  masterRealmBundle,
  newRealmBundle,
  realmRecordDefaults,
} from '../../src/realm/defaults.js';
import type { ClientRecord, RealmBundle, RoleRecord } from '../../src/realm/model.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function client(bundle: RealmBundle, clientId: string): ClientRecord {
  const c = bundle.clients.find((x) => x.clientId === clientId);
  if (c === undefined) throw new Error(`no client ${clientId}`);
  return c;
}

function roleOf(roles: readonly RoleRecord[], name: string): RoleRecord {
  const r = roles.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no role ${name}`);
  return r;
}

/** Ids unique, containers right, every composite member resolvable. */
function assertConsistent(t: import('ava').ExecutionContext, bundle: RealmBundle): void {
  const ids = new Set<string>();
  const addId = (id: string): void => {
    t.false(ids.has(id), `duplicate id ${id}`);
    ids.add(id);
  };
  addId(bundle.realm.id);
  const realmRoles = new Set(bundle.roles.map((r) => r.name));
  const clientRoles = new Map(bundle.clients.map((c) => [c.clientId, new Set(c.roles.map((r) => r.name))]));
  for (const r of bundle.roles) {
    addId(r.id);
    t.is(r.containerId, bundle.realm.id, r.name);
    t.false(r.clientRole);
  }
  for (const c of bundle.clients) {
    addId(c.id);
    t.is(c.realmId, bundle.realm.id);
    for (const r of c.roles) {
      addId(r.id);
      t.is(r.containerId, c.id, `${c.clientId}/${r.name}`);
      t.true(r.clientRole);
    }
  }
  for (const r of [...bundle.roles, ...bundle.clients.flatMap((c) => c.roles)]) {
    t.is(r.composite, r.composites !== null, r.name);
    if (r.composites === null) continue;
    for (const m of r.composites.realm) t.true(realmRoles.has(m), `${r.name} -> realm role ${m}`);
    for (const [clientId, members] of Object.entries(r.composites.client)) {
      for (const m of members) t.true(clientRoles.get(clientId)?.has(m) === true, `${r.name} -> ${clientId}/${m}`);
    }
  }
}

test('a new realm has the six built-in clients, as RealmManager.createRealm makes them', (t) => {
  const b = newRealmBundle('acme');
  t.deepEqual(
    b.clients.map((c) => c.clientId).sort(),
    ['account', 'account-console', 'admin-cli', 'broker', 'realm-management', 'security-admin-console'],
  );
  for (const c of b.clients) {
    t.regex(c.id, UUID);
    t.is(c.protocol, 'openid-connect');
    t.true(c.enabled);
    t.is(c.secret, null, `${c.clientId}: public or bearer-only, no secret`);
    t.deepEqual(c.defaultClientScopes, ['web-origins', 'acr', 'profile', 'roles', 'basic', 'email']);
  }

  const rm = client(b, 'realm-management');
  t.true(rm.bearerOnly);
  t.false(rm.fullScopeAllowed);
  t.is(rm.name, '${client_realm-management}');

  const cli = client(b, 'admin-cli');
  t.true(cli.publicClient);
  t.true(cli.directAccessGrantsEnabled);
  t.false(cli.standardFlowEnabled);

  const account = client(b, 'account');
  t.true(account.publicClient);
  t.false(account.fullScopeAllowed);
  t.is(account.baseUrl, '/realms/acme/account/');
  t.deepEqual(account.redirectUris, ['/realms/acme/account/*']);
  t.deepEqual(
    account.roles.map((r) => r.name).sort(),
    ['delete-account', 'manage-account', 'manage-account-links', 'manage-consent', 'view-applications', 'view-consent', 'view-groups', 'view-profile'],
  );
  t.deepEqual(roleOf(account.roles, 'manage-account').composites, { realm: [], client: { account: ['manage-account-links'] } });
  t.deepEqual(roleOf(account.roles, 'manage-consent').composites, { realm: [], client: { account: ['view-consent'] } });

  const accountConsole = client(b, 'account-console');
  t.true(accountConsole.publicClient);
  t.false(accountConsole.directAccessGrantsEnabled);
  t.is(accountConsole.attributes['pkce.code.challenge.method'], 'S256');

  t.true(client(b, 'broker').bearerOnly);
  t.deepEqual(client(b, 'broker').roles.map((r) => r.name), ['read-token']);

  const console_ = client(b, 'security-admin-console');
  t.true(console_.publicClient);
  t.is(console_.baseUrl, '/admin/acme/console/');
  t.deepEqual(console_.webOrigins, ['+']);
  assertConsistent(t, b);
});

test('realm-management holds every admin role; realm-admin contains them all, view-* the query roles', (t) => {
  const rm = client(newRealmBundle('acme'), 'realm-management');
  const expected = [
    'create-client', 'impersonation', 'manage-authorization', 'manage-clients', 'manage-events',
    'manage-identity-providers', 'manage-realm', 'manage-users', 'query-clients', 'query-groups', 'query-realms',
    'query-users', 'realm-admin', 'view-authorization', 'view-clients', 'view-events', 'view-identity-providers',
    'view-realm', 'view-users',
  ];
  t.deepEqual(rm.roles.map((r) => r.name).sort(), expected);
  const realmAdmin = roleOf(rm.roles, 'realm-admin');
  t.true(realmAdmin.composite);
  t.deepEqual([...realmAdmin.composites!.client['realm-management']!].sort(), expected.filter((n) => n !== 'realm-admin'));
  t.deepEqual(roleOf(rm.roles, 'view-users').composites, { realm: [], client: { 'realm-management': ['query-users', 'query-groups'] } });
  t.deepEqual(roleOf(rm.roles, 'view-clients').composites, { realm: [], client: { 'realm-management': ['query-clients'] } });
  for (const name of ['view-realm', 'manage-users', 'query-users', 'impersonation', 'create-client']) {
    t.false(roleOf(rm.roles, name).composite, name);
  }
  t.is(ADMIN_CLIENT_ROLES.length, 17);
});

test('realm roles: offline_access, uma_authorization and default-roles-<lower-cased name>', (t) => {
  const b = newRealmBundle('ACME');
  t.deepEqual(b.roles.map((r) => r.name).sort(), ['default-roles-acme', 'offline_access', 'uma_authorization']);
  t.is(defaultRoleName('ACME'), 'default-roles-acme');
  const def = roleOf(b.roles, 'default-roles-acme');
  t.deepEqual(def.composites, {
    realm: ['offline_access', 'uma_authorization'],
    client: { account: ['view-profile', 'manage-account'] },
  });
  t.is(def.description, '${role_default-roles}');
  t.is(roleOf(b.roles, 'offline_access').description, '${role_offline-access}');
  t.deepEqual(b.users, []);
  t.deepEqual(b.plainPasswords, []);
});

test('a new realm takes Keycloak defaults: enabled, RS256, §2.1 sessions, events off', (t) => {
  const b = newRealmBundle('acme');
  t.regex(b.realm.id, UUID);
  t.is(b.realm.name, 'acme');
  t.true(b.realm.enabled);
  t.is(b.realm.displayName, null);
  t.is(b.realm.defaultSignatureAlgorithm, 'RS256');
  t.is(b.realm.passwordPolicy, '');
  t.is(b.realm.userSessionLimits, null);
  t.is(b.realm.sessions.accessTokenLifespan, 300);
  t.is(b.realm.sessions.ssoSessionIdleTimeout, 1800);
  t.false(b.realm.sessions.rememberMe);
  t.deepEqual(b.realm.events, {
    eventsEnabled: false,
    enabledEventTypes: [],
    eventsExpiration: 0,
    adminEventsEnabled: false,
    adminEventsDetailsEnabled: false,
  });
  t.deepEqual(DEFAULT_PASSWORD_HASH, { algorithm: 'pbkdf2-sha512', iterations: 210_000, keyBytes: 64, saltBytes: 16 });
  t.not(newRealmBundle('acme').realm.id, b.realm.id, 'fresh ids each time');
});

test('overrides replace realm fields; session and event overrides may be partial', (t) => {
  const b = newRealmBundle('acme', {
    id: 'acme-id',
    enabled: false,
    displayName: 'ACME',
    sessions: { ssoSessionIdleTimeout: 60, rememberMe: true },
    events: { eventsEnabled: true },
  });
  t.is(b.realm.id, 'acme-id');
  t.false(b.realm.enabled);
  t.is(b.realm.displayName, 'ACME');
  t.is(b.realm.sessions.ssoSessionIdleTimeout, 60);
  t.true(b.realm.sessions.rememberMe);
  t.is(b.realm.sessions.ssoSessionMaxLifespan, 36000);
  t.true(b.realm.events.eventsEnabled);
  t.false(b.realm.events.adminEventsEnabled);
  for (const c of b.clients) t.is(c.realmId, 'acme-id');
  for (const r of b.roles) t.is(r.containerId, 'acme-id');
});

test('a blank realm name is refused', (t) => {
  t.throws(() => newRealmBundle('  '), { instanceOf: TypeError });
});

test('master: 60 s access tokens, admin and create-realm, master-realm instead of realm-management', (t) => {
  const b = masterRealmBundle();
  t.is(b.realm.name, 'master');
  t.is(b.realm.sessions.accessTokenLifespan, 60);
  t.is(b.realm.displayName, 'Keycloak');
  t.is(realmRecordDefaults('master').sessions.accessTokenLifespan, 60);
  t.deepEqual(
    b.clients.map((c) => c.clientId).sort(),
    ['account', 'account-console', 'admin-cli', 'broker', 'master-realm', 'security-admin-console'],
  );
  const cli = client(b, 'admin-cli');
  t.true(cli.publicClient && cli.directAccessGrantsEnabled);

  const masterRealm = client(b, 'master-realm');
  t.true(masterRealm.bearerOnly);
  t.is(masterRealm.name, 'master Realm');
  t.false(masterRealm.roles.some((r) => r.name === 'realm-admin'), 'master uses the admin realm role instead');
  t.deepEqual(roleOf(masterRealm.roles, 'view-users').composites, { realm: [], client: { 'master-realm': ['query-users', 'query-groups'] } });

  t.deepEqual(b.roles.map((r) => r.name).sort(), ['admin', 'create-realm', 'default-roles-master', 'offline_access', 'uma_authorization']);
  const admin = roleOf(b.roles, 'admin');
  t.deepEqual(admin.composites!.realm, ['create-realm']);
  t.deepEqual([...admin.composites!.client['master-realm']!].sort(), masterRealm.roles.map((r) => r.name).sort());
  assertConsistent(t, b);
});

test('completeRealm fills an empty bundle with everything a new realm has', (t) => {
  const realm = realmRecordDefaults('acme');
  const done = completeRealm({ realm, clients: [], users: [], roles: [], plainPasswords: [] }, { now: 5 });
  const fresh = newRealmBundle('acme');
  t.deepEqual(done.clients.map((c) => c.clientId).sort(), fresh.clients.map((c) => c.clientId).sort());
  t.deepEqual(done.roles.map((r) => r.name).sort(), fresh.roles.map((r) => r.name).sort());
  t.deepEqual(
    client(done, 'realm-management').roles.map((r) => r.name).sort(),
    client(fresh, 'realm-management').roles.map((r) => r.name).sort(),
  );
  assertConsistent(t, done);
});

test('completeRealm keeps what is there (ids included) and adds only what is missing, without mutating its input', (t) => {
  const fresh = newRealmBundle('acme');
  const rm = client(fresh, 'realm-management');
  // An old export: realm-management with two roles only, no account client, no uma_authorization.
  const partialRm: ClientRecord = {
    ...rm,
    id: 'rm-id',
    roles: [
      { ...roleOf(rm.roles, 'view-users'), id: 'view-users-id', containerId: 'rm-id', composite: false, composites: null },
      { ...roleOf(rm.roles, 'realm-admin'), id: 'realm-admin-id', containerId: 'rm-id', composite: false, composites: null },
    ],
  };
  const input: RealmBundle = {
    realm: fresh.realm,
    clients: [partialRm, client(fresh, 'admin-cli')],
    users: [],
    roles: fresh.roles.filter((r) => r.name === 'offline_access'),
    plainPasswords: [],
  };
  const snapshot = structuredClone(input);
  const done = completeRealm(input);
  t.deepEqual(input, snapshot, 'input untouched');

  const doneRm = client(done, 'realm-management');
  t.is(doneRm.id, 'rm-id');
  t.is(roleOf(doneRm.roles, 'view-users').id, 'view-users-id');
  t.is(roleOf(doneRm.roles, 'realm-admin').id, 'realm-admin-id');
  t.is(doneRm.roles.length, 19);
  t.is(roleOf(doneRm.roles, 'realm-admin').composites!.client['realm-management']!.length, 18);
  t.deepEqual(roleOf(doneRm.roles, 'view-users').composites, { realm: [], client: { 'realm-management': ['query-users', 'query-groups'] } });
  t.is(client(done, 'admin-cli').id, client(fresh, 'admin-cli').id);
  t.truthy(done.clients.find((c) => c.clientId === 'account'));
  t.is(roleOf(done.roles, 'offline_access').id, roleOf(fresh.roles, 'offline_access').id);
  t.truthy(done.roles.find((r) => r.name === 'uma_authorization'));
  t.truthy(done.roles.find((r) => r.name === 'default-roles-acme'));
  assertConsistent(t, done);

  const again = completeRealm(done);
  t.deepEqual(again, done, 'idempotent');
});

test('completeRealm gives each service-account client a user holding the default role', (t) => {
  const b = newRealmBundle('acme');
  const svc = { ...client(b, 'admin-cli'), id: 'svc-id', clientId: 'My-Service', publicClient: false, serviceAccountsEnabled: true, roles: [] };
  const done = completeRealm({ ...b, clients: [...b.clients, svc] }, { now: 1234 });
  t.is(done.users.length, 1);
  const u = done.users[0]!;
  t.is(u.username, 'service-account-my-service');
  t.is(u.serviceAccountClientId, 'My-Service');
  t.true(u.enabled);
  t.is(u.createdTimestamp, 1234);
  t.deepEqual(u.realmRoles, ['default-roles-acme']);
  t.is(completeRealm(done).users.length, 1, 'not twice');
});

test('a custom default role name is respected', (t) => {
  const realm = realmRecordDefaults('acme');
  const done = completeRealm({ realm, clients: [], users: [], roles: [], plainPasswords: [] }, { defaultRoleName: 'acme-defaults' });
  t.truthy(done.roles.find((r) => r.name === 'acme-defaults'));
  t.falsy(done.roles.find((r) => r.name === 'default-roles-acme'));
});
