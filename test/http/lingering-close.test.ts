// Goal: a request whose body is over the limit gets its 413 JSON answer even
// though the client is still sending (lingering close), on OIDC and admin
// paths, by Content-Length and chunked; overlong path segments are 404; the
// node keeps serving afterwards. Method: raw node:http requests that write a
// 2 MB body in 64 KiB chunks to a real node, then read the answer.

import { request } from 'node:http';
import test from 'ava';
import { DEMO_APP, startNode, type TestNode } from '../helpers/node-harness.js';

let n: TestNode;
test.before(async () => {
  n = await startNode();
});
test.after.always(async () => {
  await n?.stop();
});

const CHUNK = Buffer.alloc(64 * 1024, 'a');

/** Sends `bytes` of body (chunked when no length is declared); resolves with the answer or rejects with the socket error. */
function sendLarge(url: string, bytes: number, declareLength: boolean, contentType: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { 'content-type': contentType, ...(declareLength ? { 'content-length': String(bytes) } : {}) },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, bytes - sent));
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

const TWO_MB = 2 * 1024 * 1024;

for (const declareLength of [true, false]) {
  const how = declareLength ? 'Content-Length' : 'chunked';
  test(`a 2 MB token request (${how}) is answered 413 with an OAuth error body`, async (t) => {
    const res = await sendLarge(n.oidcUrl('demo', 'token'), TWO_MB, declareLength, 'application/x-www-form-urlencoded');
    t.is(res.status, 413);
    t.is(JSON.parse(res.body).error, 'invalid_request');
    const login = await n.login('demo', DEMO_APP, 'alice', 'alice-password');
    t.truthy(login.access_token, 'the node keeps serving');
  });

  test(`a 2 MB JSON body on the userinfo path (${how}) is answered 413`, async (t) => {
    const res = await sendLarge(n.oidcUrl('demo', 'userinfo'), TWO_MB, declareLength, 'application/json');
    t.is(res.status, 413);
    t.is(JSON.parse(res.body).error, 'invalid_request');
  });
}

test('a 1000-character path segment is 404, on OIDC and admin paths', async (t) => {
  const long = 'x'.repeat(1000);
  const oidc = await n.get(`${n.baseUrl}/realms/${long}/protocol/openid-connect/certs`);
  t.is(oidc.status, 404);
  t.is(typeof oidc.body.error, 'string');
  const wellKnown = await n.get(`${n.baseUrl}/realms/${long}/.well-known/openid-configuration`);
  t.is(wellKnown.status, 404);
  const admin = await n.get(`${n.baseUrl}/admin/realms/demo/users/${long}`);
  t.true(admin.status === 401 || admin.status === 404, `unauthenticated admin request: ${admin.status}`);
  t.not(admin.status, 414);
});
