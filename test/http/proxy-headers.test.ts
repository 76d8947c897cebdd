// Goal: behind a reverse proxy the node sees the client, not the balancer
// (--proxy-headers forwarded|xforwarded, --proxy-trusted-addresses): the session
// IP (what events, listings and bulk revoke's CIDR filters read); scheme and host from
// the proxy shape the issuer when no --hostname is set. With --hostname, a
// forged Host header changes nothing; --hostname-admin serves requests that
// arrive through the admin address. Headers from untrusted senders, or of the
// family not configured, are ignored. Method: real nodes over HTTP from
// 127.0.0.1, headers set as a proxy would.

import { get } from 'node:http';
import test from 'ava';
import { DEMO_APP, claims, startNode, type TestNode } from '../helpers/node-harness.js';

const nodes: TestNode[] = [];
async function node(argv: string[], hostname?: string): Promise<TestNode> {
  const n = await startNode({ argv, ...(hostname !== undefined ? { hostname } : {}) });
  nodes.push(n);
  return n;
}
test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

/** Password-grant login with extra headers; the session's IP as the engine holds it. */
async function loginVia(n: TestNode, headers: Record<string, string>): Promise<{ ip: string; iss: string }> {
  const res = await n.token('demo', { grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'openid' }, { basic: DEMO_APP, headers });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  const session = await n.node.engine.getSession(res.body.session_state);
  return { ip: session!.session.ip, iss: claims(res.body.access_token).iss };
}

/** The discovery document's issuer; node:http, as fetch does not let a caller set Host. */
function discoveryIssuer(n: TestNode, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    get(`${n.realmUrl('demo')}/.well-known/openid-configuration`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve((JSON.parse(body) as { issuer: string }).issuer));
    }).on('error', reject);
  });
}

test('xforwarded from a trusted proxy: client address, scheme and host come from X-Forwarded-*', async (t) => {
  const n = await node(['--proxy-headers', 'xforwarded', '--proxy-trusted-addresses', '127.0.0.0/8']);
  const xf = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'sso.example' };
  const { ip, iss } = await loginVia(n, xf);
  t.is(ip, '203.0.113.7');
  t.is(iss, 'https://sso.example/realms/demo');
  // A Forwarded header is not the configured family: ignored.
  t.is((await loginVia(n, { forwarded: 'for=198.51.100.1;proto=https;host=other.example' })).ip, '127.0.0.1');
});

test('forwarded (RFC 7239) from a trusted proxy; X-Forwarded-* ignored in that mode', async (t) => {
  const n = await node(['--proxy-headers', 'forwarded']);
  const { ip, iss } = await loginVia(n, { forwarded: 'for="[2001:db8::17]:4711";proto=https;host=sso.example' });
  t.is(ip, '2001:db8::17');
  t.is(iss, 'https://sso.example/realms/demo');
  t.is((await loginVia(n, { forwarded: 'for=198.51.100.9, for=10.1.2.3' })).ip, '198.51.100.9');
  const spoofed = await loginVia(n, { 'x-forwarded-for': '203.0.113.66', 'x-forwarded-host': 'evil.example' });
  t.is(spoofed.ip, '127.0.0.1');
  t.is(spoofed.iss, `${n.baseUrl}/realms/demo`);
});

test('proxy headers from a sender outside --proxy-trusted-addresses are ignored', async (t) => {
  const n = await node(['--proxy-headers', 'xforwarded', '--proxy-trusted-addresses', '10.0.0.0/8']);
  const { ip, iss } = await loginVia(n, { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
  t.is(ip, '127.0.0.1');
  t.is(iss, `${n.baseUrl}/realms/demo`);
});

test('without proxy headers configured, X-Forwarded-* and Forwarded are ignored', async (t) => {
  const n = await node([]);
  const { ip } = await loginVia(n, { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=198.51.100.1' });
  t.is(ip, '127.0.0.1');
});

test('with --hostname, a forged Host header does not change the issuer; --hostname-admin serves its own address', async (t) => {
  const n = await node(['--hostname-admin', 'https://admin.example:8443', '--hostname-strict', 'true'], 'https://sso.example');
  t.is(await discoveryIssuer(n, { host: 'evil.example' }), 'https://sso.example/realms/demo');
  t.is((await loginVia(n, {})).iss, 'https://sso.example/realms/demo');
  t.is(await discoveryIssuer(n, { host: 'admin.example:8443' }), 'https://admin.example:8443/realms/demo');
});

test('without --hostname the issuer follows the Host header (the documented risk the start-up warning names)', async (t) => {
  const n = await node([]);
  t.is(await discoveryIssuer(n, { host: 'evil.example' }), 'http://evil.example/realms/demo');
});
