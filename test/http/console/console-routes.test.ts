// What the node serves for the console, without a browser: /admin/ to the
// master console, the page with its strict CSP, the bundle, 404s, whoami
// (Keycloak's AdminConsole.whoAmI) and the security-admin-console client
// made again when a realm lacks it.

import test from 'ava';
import { ADMIN_CONSOLE_CLIENT_ID } from '../../../src/realm/defaults.js';
import { CONSOLE_CSP } from '../../../src/http/console/console-routes.js';
import { DEMO_APP, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

let a: AdminNode;
test.before(async () => {
  a = await startAdminNode();
});
test.after.always(async () => {
  await a?.stop();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${a.baseUrl}${path}`, { redirect: 'manual', headers });

test('/admin/ redirects to the master console; the console path gets its trailing slash', async (t) => {
  for (const path of ['/admin', '/admin/']) {
    const res = await get(path);
    t.is(res.status, 302);
    t.is(res.headers.get('location'), '/admin/master/console/');
  }
  const bare = await get('/admin/demo/console');
  t.is(bare.status, 302);
  t.is(bare.headers.get('location'), '/admin/demo/console/');
});

test('the page: strict CSP, no inline script or style, the bundle from this origin', async (t) => {
  const res = await get('/admin/demo/console/');
  t.is(res.status, 200);
  t.is(res.headers.get('content-security-policy'), CONSOLE_CSP);
  t.regex(CONSOLE_CSP, /default-src 'none'/);
  t.is(res.headers.get('x-frame-options'), 'DENY');
  const html = await res.text();
  const script = /<script type="module" src="(app\.js\?v=[\w-]{16})"><\/script>/.exec(html);
  t.truthy(script, 'the bundle is named by its content hash');
  t.regex(html, /<meta name="sessiond-realm" content="demo">/);
  t.notRegex(html, /<script>|<style>|style=|https?:\/\//);
  const js = await get(`/admin/demo/console/${script![1]}`);
  t.is(js.status, 200);
  t.regex(js.headers.get('content-type') ?? '', /^text\/javascript/);
  t.is(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'the hashed name may be cached for good');
  t.true((await js.text()).length > 1000);
  const css = /<link rel="stylesheet" href="(app\.css\?v=[\w-]{16})">/.exec(html);
  t.is((await get(`/admin/demo/console/${css![1]}`)).headers.get('cache-control'), 'public, max-age=31536000, immutable');
  const unversioned = await get('/admin/demo/console/app.css?v=stale');
  t.is(unversioned.status, 200);
  t.is(unversioned.headers.get('cache-control'), 'no-cache', 'another hash (an older page) is revalidated');
  t.is((await get('/admin/demo/console/secrets.json')).status, 404);
  t.is((await get('/admin/nope/console/')).status, 404);
});

test('whoami: 401 without a token; the admin roles per realm with one', async (t) => {
  t.is((await get('/admin/master/console/whoami')).status, 401);
  const admin: any = await (await get('/admin/master/console/whoami', { authorization: `Bearer ${a.token}` })).json();
  t.like(admin, { realm: 'master', createRealm: true });
  t.true(admin.realm_access.demo.includes('manage-users'));
  const carol = (await a.login('demo', DEMO_APP, 'carol', 'carol-password')).access_token;
  const who: any = await (await get('/admin/demo/console/whoami', { authorization: `Bearer ${carol}` })).json();
  t.deepEqual(who.realm_access, { demo: ['view-realm', 'view-users'] });
  t.is(who.createRealm, false);
});

test('a realm without the console client gets it back when its console is opened', async (t) => {
  const r = await a.createRealm();
  const client = a.node.store.clientByClientId(r.realm.id, ADMIN_CONSOLE_CLIENT_ID)!;
  await a.node.store.deleteClient(client.id);
  t.is(a.node.store.clientByClientId(r.realm.id, ADMIN_CONSOLE_CLIENT_ID), undefined);
  t.is((await get(`/admin/${r.name}/console/`)).status, 200);
  const made = a.node.store.clientByClientId(r.realm.id, ADMIN_CONSOLE_CLIENT_ID)!;
  t.like(made, { publicClient: true, redirectUris: [`/admin/${r.name}/console/*`], attributes: { 'pkce.code.challenge.method': 'S256' } });
});
