// The access log (--access-log): one line per public request through the
// node's logger, with the query values that are codes, tokens, secrets or
// passwords redacted, and neither headers nor bodies logged.

import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { REDACTED, redactUrl } from '../../src/http/access-log.js';
import { DEMO_APP, startNode } from '../helpers/node-harness.js';

test('redactUrl replaces secret query values and keeps the rest', (t) => {
  t.is(redactUrl('/realms/demo/protocol/openid-connect/certs'), '/realms/demo/protocol/openid-connect/certs');
  t.is(
    redactUrl('/cb?state=s1&code=abc.def&session_state=x&Refresh_Token=r&id_token_hint=eyJ#frag'),
    `/cb?state=s1&code=${REDACTED}&session_state=x&Refresh_Token=${REDACTED}&id_token_hint=${REDACTED}`,
  );
  t.is(redactUrl('/x?client%5Fsecret=s&password=p&flag'), `/x?client%5Fsecret=${REDACTED}&password=${REDACTED}&flag`);
  t.is(redactUrl('/x?%E0%A4%A=v'), `/x?%E0%A4%A=${REDACTED}`);
});

test('a node with --access-log writes one redacted line per request, none without it', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const h = await startNode({ accessLog: true, log: pino({ level: 'info' }, sink) });
  t.teardown(() => h.stop());
  const tokens = await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  const logout = await h.get(`${h.oidcUrl('demo', 'logout')}?id_token_hint=${tokens.id_token!}&client_id=demo-app`);
  t.true(logout.status < 500);
  await h.get(`${h.baseUrl}/admin/realms/demo/users`, { authorization: `Bearer ${tokens.access_token}` });

  const access = lines.filter((l) => l['msg'] === 'access');
  t.is(access.length, 3);
  const [grant, end, admin] = access;
  t.like(grant, { method: 'POST', url: '/realms/demo/protocol/openid-connect/token', route: '/realms/:realm/protocol/openid-connect/token', status: 200, ip: '127.0.0.1' });
  t.is(typeof grant!['ms'], 'number');
  t.is(end!['url'], `/realms/demo/protocol/openid-connect/logout?id_token_hint=${REDACTED}&client_id=demo-app`);
  t.is(admin!['status'], 401);
  const text = JSON.stringify(lines);
  for (const secret of ['alice-password', DEMO_APP[1], tokens.access_token, tokens.id_token!, tokens.refresh_token!]) t.false(text.includes(secret));
});

test('without --access-log no access line is written', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const h = await startNode({ log: pino({ level: 'info' }, sink) });
  t.teardown(() => h.stop());
  await h.login('demo', DEMO_APP, 'alice', 'alice-password');
  t.false(lines.join('').includes('"msg":"access"'));
});
