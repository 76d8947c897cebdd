// Goal: the demo relying party of docs/oidc-browser.md works as written:
// against a real node it completes the code flow with PKCE, prints the
// tokens, and those tokens work at userinfo and introspection; its logout
// link ends the session and comes back to it. Method: a node on a free port
// with the demo realm, `node examples/demo-rp.mjs` as a child process on
// another free port, and a scripted browser (fetch, manual redirects, a
// cookie jar) that follows the links a person would click.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { TestBrowser, parseForm } from '../helpers/browser-client.js';
import { DEMO_APP, startNode, type TestNode } from '../helpers/node-harness.js';

const DEMO_RP = fileURLToPath(new URL('../../../examples/demo-rp.mjs', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

interface RpProcess {
  child: ChildProcess;
  base: string;
  stdout: () => string;
}

async function startRp(node: TestNode): Promise<RpProcess> {
  const child = spawn(process.execPath, [DEMO_RP, '--issuer', node.realmUrl('demo'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const match = /listening on (http:\/\/\S+?)\/ /.exec(out);
    if (match !== null) return { child, base: match[1]!, stdout: () => out };
    if (child.exitCode !== null) throw new Error(`demo-rp exited: ${err}`);
    if (Date.now() > deadline) throw new Error(`demo-rp not ready: ${out} ${err}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function printedTokens(rp: RpProcess): Promise<Record<string, any>> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const at = rp.stdout().indexOf('signed in as alice\n');
    if (at >= 0) {
      const rest = rp.stdout().slice(at + 'signed in as alice\n'.length);
      try {
        return JSON.parse(rest) as Record<string, any>;
      } catch {
        // not all of it has arrived yet
      }
    }
    if (Date.now() > deadline) throw new Error(`no tokens printed: ${rp.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the demo relying party signs alice in with the code flow and PKCE, prints working tokens, and logs out', async (t) => {
  const node = await startNode();
  t.teardown(() => node.stop());
  const rp = await startRp(node);
  t.teardown(() => void rp.child.kill('SIGTERM'));
  const browser = new TestBrowser();

  const home = await browser.get(`${rp.base}/`);
  t.is(home.status, 200);
  t.regex(home.text, /href="\/login"/);

  const start = await browser.get(`${rp.base}/login`);
  t.is(start.status, 302);
  const auth = start.location!;
  t.is(auth.origin + auth.pathname, node.oidcUrl('demo', 'auth'));
  t.is(auth.searchParams.get('code_challenge_method'), 'S256');
  t.is(auth.searchParams.get('redirect_uri'), `${rp.base}/cb`);

  const loginPage = await browser.get(auth.href);
  t.is(loginPage.status, 200);
  const form = parseForm(loginPage.text);
  const submitted = await browser.post(new URL(form.action, auth).href, { ...form.fields, username: 'alice', password: 'alice-password' });
  t.is(submitted.status, 302);
  t.is(submitted.location!.origin + submitted.location!.pathname, `${rp.base}/cb`);

  const callback = await browser.get(submitted.location!.href);
  t.is(callback.status, 200, callback.text);
  t.regex(callback.text, /Signed in as alice/);

  const printed = await printedTokens(rp);
  const tokens = printed['token_response'] as Record<string, string>;
  t.is(printed['id_token_claims']['preferred_username'], 'alice');
  t.is(printed['userinfo']['preferred_username'], 'alice');
  // The printed tokens work against the node, through the same address the RP used.
  const userinfo = await node.get(node.oidcUrl('demo', 'userinfo'), { authorization: `Bearer ${tokens['access_token']}` });
  t.is(userinfo.status, 200);
  t.is(userinfo.body.preferred_username, 'alice');
  const active = await node.introspect('demo', DEMO_APP, tokens['access_token']!);
  t.is(active.body.active, true);

  // The page's logout link: RP-initiated logout with id_token_hint, back to the RP.
  const logoutHref = /<a href="([^"]+)">Log out<\/a>/.exec(callback.text)![1]!.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  const logout = await browser.get(logoutHref);
  t.is(logout.status, 302, logout.text);
  t.is(logout.location!.href, `${rp.base}/`);
  t.is((await node.introspect('demo', DEMO_APP, tokens['access_token']!)).body.active, false);
});
