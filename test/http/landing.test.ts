// Goal: `/` points a visitor to what exists instead of a bare 404, and
// `/admin/` leads to the admin console. Method: a real node over HTTP.

import test from 'ava';
import { startNode, type TestNode } from '../helpers/node-harness.js';

let node: TestNode;
test.before(async () => {
  node = await startNode({ demo: false });
});
test.after.always(() => node?.stop());

test('/ names the discovery document, the admin API and the docs', async (t) => {
  const res = await node.get(`${node.baseUrl}/`);
  t.is(res.status, 200);
  t.is(res.body.service, 'sessiond');
  t.is(res.body.endpoints.openidConfiguration, `${node.baseUrl}/realms/{realm}/.well-known/openid-configuration`);
  t.is(res.body.endpoints.adminApi, `${node.baseUrl}/admin/realms`);
  t.is(res.body.endpoints.adminConsole, `${node.baseUrl}/admin/`);
  t.is(res.body.docs.oidc, 'docs/oidc.md');
});

test('/admin and /admin/ lead to the master realm\'s console; the API itself still needs a token', async (t) => {
  for (const path of ['/admin', '/admin/']) {
    const res = await fetch(`${node.baseUrl}${path}`, { redirect: 'manual' });
    t.is(res.status, 302, path);
    t.is(res.headers.get('location'), '/admin/master/console/');
  }
  t.is((await node.get(`${node.baseUrl}/admin/realms`)).status, 401);
});
