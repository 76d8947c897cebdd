// Goal: with durability 'journal' (the default), a node killed with SIGKILL
// (no shutdown code runs) loses no answered lifecycle change: every login is
// back after the restart, a logged-out session stays dead, a rotated refresh
// token stays used. With 'snapshot', the same crash loses the online sessions
// (the documented trade-off). Method: a real `node dist/src/main.js` on a
// temp data directory and a copy of the demo realm with cheap password
// hashing and refresh-token rotation on; logins, logouts and rotations over
// HTTP; `kill -9`; a new process on the same directory; refreshes over HTTP.

import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { freePorts, logLine, run, type Run } from './helpers/node-process.js';

const DEMO_REALM = new URL('../../realms/demo-realm.json', import.meta.url);

interface Tokens {
  refresh_token: string;
  access_token: string;
}

async function realmDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sessiond-crash-realms-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const realm = JSON.parse(await readFile(DEMO_REALM, 'utf8')) as Record<string, unknown>;
  realm['passwordPolicy'] = 'hashIterations(1000)';
  realm['revokeRefreshToken'] = true;
  realm['refreshTokenMaxReuse'] = 0;
  await writeFile(join(dir, 'demo-realm.json'), JSON.stringify(realm));
  return dir;
}

class Node {
  readonly r: Run;
  readonly base: string;

  constructor(r: Run, httpPort: number) {
    this.r = r;
    this.base = `http://127.0.0.1:${httpPort}/realms/demo/protocol/openid-connect`;
  }

  static async start(t: ExecutionContext, dataDir: string, realms: string, durability: string): Promise<Node> {
    const [httpPort, managementPort] = await freePorts(2);
    const r = run([
      '--host', '127.0.0.1', '--http-port', String(httpPort), '--management-port', String(managementPort),
      '--shards', '2', '--data-dir', dataDir, '--import-realm', realms, '--durability', durability, '--log-level', 'info', '--login-rate-limit', '0',
      // One issuer across restarts, whichever port each process gets.
      '--hostname', 'http://sso.example.test',
    ]);
    t.teardown(async () => {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exit;
    });
    await logLine(r, 'sessiond node ready');
    return new Node(r, httpPort);
  }

  async post(path: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.base}/${path}`, { method: 'POST', body: new URLSearchParams({ client_id: 'demo-app', client_secret: 'demo-secret', ...form }) });
    const text = await res.text();
    return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  async login(username: string): Promise<Tokens> {
    const { status, body } = await this.post('token', { grant_type: 'password', username, password: `${username}-password`, scope: 'openid' });
    if (status !== 200) throw new Error(`login ${username}: ${status} ${JSON.stringify(body)}`);
    return body as unknown as Tokens;
  }

  refresh(tokens: Tokens): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.post('token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
  }

  async kill(): Promise<void> {
    this.r.child.kill('SIGKILL');
    const { signal } = await this.r.exit;
    if (signal !== 'SIGKILL') throw new Error(`expected death by SIGKILL, got ${signal}`);
  }
}

async function dataDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sessiond-crash-'));
  await mkdir(dir, { recursive: true });
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test.serial('journal: after kill -9, every answered login is back, logouts stay logged out, rotated tokens stay used', async (t) => {
  const [dir, realms] = [await dataDir(t), await realmDir(t)];
  let node = await Node.start(t, dir, realms, 'journal');
  const users = ['alice', 'bob', 'carol'];
  const kept = await Promise.all(users.map((u) => node.login(u)));
  const loggedOut = await Promise.all(users.map((u) => node.login(u)));
  for (const tokens of loggedOut) t.is((await node.post('logout', { refresh_token: tokens.refresh_token })).status, 204);
  const before = await Promise.all(users.map((u) => node.login(u)));
  const rotated: Tokens[] = [];
  for (const tokens of before) {
    const { status, body } = await node.refresh(tokens);
    t.is(status, 200);
    rotated.push(body as unknown as Tokens);
  }

  await node.kill();
  node = await Node.start(t, dir, realms, 'journal');

  for (const tokens of kept) t.is((await node.refresh(tokens)).status, 200, 'a login answered before the crash is back');
  for (const tokens of loggedOut) {
    const { status, body } = await node.refresh(tokens);
    t.is(status, 400);
    t.is(body['error_description'], 'Session not active', 'a logout answered before the crash stays done');
  }
  for (let i = 0; i < users.length; i++) {
    const { status, body } = await node.refresh(before[i]!);
    t.is(status, 400, 'the token rotated before the crash is still used up');
    // Which reuse rule fires depends on whether both tokens were issued within the same second.
    t.true(['Stale token', 'Maximum allowed refresh token reuse exceeded'].includes(body['error_description'] as string), String(body['error_description']));
    t.is((await node.refresh(rotated[i]!)).status, 400, 'and the replay killed its chain, as Keycloak does');
  }
});

test.serial('snapshot: a kill -9 loses the online sessions (written at graceful shutdown only)', async (t) => {
  const [dir, realms] = [await dataDir(t), await realmDir(t)];
  let node = await Node.start(t, dir, realms, 'snapshot');
  const tokens = await node.login('alice');
  await node.kill();
  node = await Node.start(t, dir, realms, 'snapshot');
  const { status, body } = await node.refresh(tokens);
  t.is(status, 400);
  t.is(body['error_description'], 'Session not active');
});
