// Goal: `/` and `/admin/` point a visitor to what exists (no console is
// served) instead of a bare 404. Method: a real node over HTTP.

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
  t.is(res.body.docs.oidc, 'docs/oidc.md');
});

test('/admin and /admin/ say no console is served and where the admin API is, without a token', async (t) => {
  for (const path of ['/admin', '/admin/']) {
    const res = await node.get(`${node.baseUrl}${path}`);
    t.is(res.status, 200, path);
    t.regex(res.body.description, /No admin console/);
    t.is(res.body.endpoints.adminToken, `${node.baseUrl}/realms/master/protocol/openid-connect/token`);
    t.is(res.body.docs.adminApi, 'docs/admin-api.md');
  }
  t.is((await node.get(`${node.baseUrl}/admin/realms`)).status, 401, 'the API itself still needs a token');
});
