// The admin console in Debian's Chromium (playwright-core) against a node in
// this process: `/admin/` leads to the master console's login (code + PKCE
// through security-admin-console), and another page of the same browser signs
// in through the SSO session without leaving the console (a fetch,
// prompt=none); the master admin picks realm demo, lists its sessions (paged
// by the engine), sorts the whole list by last access and
// by start (mouse and keyboard), filters it by CIDR and by a last-access
// range, previews a revoke with the list's filters, searches, opens a
// session, revokes two selected sessions (the counts shown, the sessions
// really gone through the admin API), previews and runs a revoke by filter,
// visits Users and Events, and signs out through the end-session endpoint.
// The node runs on a manual clock, so that the three users' sessions have
// last accesses a minute apart. A read-only admin
// (carol: view-users, view-realm in demo) sees no revoke control and an
// explained 403 on Events. axe-core runs in each main page and finds no
// serious or critical violation. The page's CSP stays on throughout.
//
// The screenshots of docs/console.md are taken here: with
// SESSIOND_DOC_SCREENSHOTS=1 they are written to docs/console/, else to a
// temporary directory.
//
// Without /usr/bin/chromium the test is skipped, except in CI (.ci/run installs it).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEMO_APP, startAdminNode, type AdminNode } from '../../helpers/admin-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DOC_SHOTS = fileURLToPath(new URL('../../../../docs/console/', import.meta.url));

const chromiumMissing = !existsSync(CHROMIUM);
const runner = chromiumMissing && process.env['CI'] === undefined ? test.skip : test.serial;

let a: AdminNode;
/** The clock (epoch s) when the first session was made. */
let T0: number;
let browser: Browser;
let shots: string;

test.before(async () => {
  if (chromiumMissing && process.env['CI'] === undefined) return;
  a = await startAdminNode({ manualClock: true });
  const demo = a.node.store.realmByName('demo')!;
  await a.node.store.updateRealm({ ...demo, events: { ...demo.events, adminEventsEnabled: true } });
  // 25 sessions: alice 12 from 127.0.0.1 at T0, bob 10 from 127.0.0.2 at T0 + 60 s, carol 3 from 127.0.0.3 at T0 + 120 s.
  T0 = a.now();
  for (let i = 0; i < 12; i++) await a.login('demo', DEMO_APP, 'alice', 'alice-password');
  await a.advance(60);
  for (let i = 0; i < 10; i++) await a.login('demo', DEMO_APP, 'bob', 'bob-password', { localAddress: '127.0.0.2' });
  await a.advance(60);
  for (let i = 0; i < 3; i++) await a.login('demo', DEMO_APP, 'carol', 'carol-password', { localAddress: '127.0.0.3' });
  await a.reauth();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
  if (process.env['SESSIOND_DOC_SCREENSHOTS'] === '1') {
    mkdirSync(DOC_SHOTS, { recursive: true });
    shots = DOC_SHOTS;
  } else shots = mkdtempSync(join(tmpdir(), 'sessiond-console-'));
});
test.after.always(async () => {
  await browser?.close();
  await a?.stop();
  if (shots !== undefined && shots !== DOC_SHOTS) rmSync(shots, { recursive: true, force: true });
});

/** Epoch seconds as a datetime-local value read as UTC, as the console reads it. */
const utcInput = (epochS: number): string => new Date(epochS * 1000).toISOString().slice(0, 19);

/** axe-core in the page (evaluated through the DevTools protocol, which the page's CSP does not govern). */
async function axe(t: ExecutionContext, page: Page, where: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const g = globalThis as any;
    const result = await g.axe.run(g.document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const bad = violations.filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical');
  t.deepEqual(bad, [], `${where}: axe found ${JSON.stringify(bad)}`);
}

async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign In' }).click();
}

async function count(query: string): Promise<number> {
  const res = await a.api('GET', `/demo/sessions/count?${query}`);
  return (res.body as { count: number }).count;
}

runner('master admin: login, list, search, detail, bulk revoke, revoke by filter, users, events, logout', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });

  // /admin/ → the master console → its login page; back with a code, exchanged with PKCE.
  await signIn(page, `${a.baseUrl}/admin/`, 'admin', 'admin');
  await page.waitForURL(`${a.baseUrl}/admin/master/console/`);
  const response = await page.request.get(`${a.baseUrl}/admin/master/console/`);
  t.regex(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);

  // Another page of this browser signs in through the SSO session without leaving the console: the
  // authorization request (prompt=none) is a fetch, the page loads once, no code ever in its URL.
  const second = await context.newPage();
  const navigations: string[] = [];
  second.on('framenavigated', (frame) => {
    if (frame === second.mainFrame()) navigations.push(frame.url());
  });
  const authRequests: { type: string; url: string }[] = [];
  second.on('request', (r) => {
    if (r.url().includes('/protocol/openid-connect/auth')) authRequests.push({ type: r.resourceType(), url: r.url() });
  });
  await second.goto(`${a.baseUrl}/admin/master/console/#realm=demo`);
  await second.getByTestId('sessions-table').locator('tbody tr').first().waitFor();
  t.is(await second.getByRole('heading', { level: 1 }).textContent(), 'Sessions in demo', 'the realm the URL names');
  t.deepEqual(navigations, [`${a.baseUrl}/admin/master/console/#realm=demo`]);
  t.deepEqual(authRequests.map((r) => r.type), ['fetch']);
  t.regex(authRequests[0]!.url, /[?&]prompt=none(&|$)/);
  t.regex(authRequests[0]!.url, /[?&]code_challenge_method=S256(&|$)/);
  t.is(await second.evaluate('sessionStorage.length'), 0, 'the verifier stayed in memory');
  await second.close();

  await page.getByLabel('Realm', { exact: true }).selectOption('demo');
  const table = page.getByTestId('sessions-table');
  await table.locator('tbody tr').first().waitFor();
  t.is(await table.locator('tbody tr').count(), 20, 'a page of 20, paged by the engine');
  await page.getByTestId('total-regular').filter({ hasText: '25' }).waitFor();
  await page.screenshot({ path: join(shots, 'sessions.png') });
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 21–25 (last page)' }).waitFor();
  t.is(await table.locator('tbody tr').count(), 5);
  await axe(t, page, 'sessions');

  // Sort over the whole list (not the page shown): by last access, newest first, then oldest first.
  const users = () => table.locator('tbody tr td:nth-child(2)').allTextContents();
  const lastAccess = page.getByRole('button', { name: 'Last access', exact: true });
  await lastAccess.click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–20, by last access, newest first' }).waitFor();
  t.deepEqual((await users()).slice(0, 4), ['carol', 'carol', 'carol', 'bob'], 'page 1 starts with the newest, though the engine lists them last');
  t.is(await page.getByRole('columnheader', { name: 'Last access' }).getAttribute('aria-sort'), 'descending');
  await lastAccess.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('caption').filter({ hasText: 'by last access, oldest first' }).waitFor();
  t.deepEqual([...new Set(await users())], ['alice', 'bob']);
  t.is(await page.getByRole('columnheader', { name: 'Last access' }).getAttribute('aria-sort'), 'ascending');
  await page.getByRole('button', { name: 'Started', exact: true }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–20, by start, newest first' }).waitFor();
  t.is((await users())[0], 'carol');
  t.is(await page.getByRole('columnheader', { name: 'Last access' }).getAttribute('aria-sort'), 'none');

  // Filter by CIDR, then by a last-access range; the same filter previewed for revocation.
  const filters = page.getByRole('search');
  await filters.getByLabel('IP address or CIDR').fill('127.0.0.2/31');
  await filters.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–13 (last page)' }).waitFor();
  t.deepEqual([...new Set(await users())].sort(), ['bob', 'carol']);
  await filters.getByRole('button', { name: 'Clear filters' }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–20, by start' }).waitFor();
  await filters.getByLabel('Last access from (UTC)').fill(utcInput(T0 + 30));
  await filters.getByLabel('Last access before (UTC)').fill(utcInput(T0 + 90));
  await filters.getByLabel('Last access before (UTC)').press('Enter');
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–10 (last page)' }).waitFor();
  t.deepEqual([...new Set(await users())], ['bob']);
  await page.screenshot({ path: join(shots, 'sessions-filtered.png') });
  await axe(t, page, 'sessions, filtered and sorted');
  const revokePanel = page.getByRole('form', { name: 'Revoke by filter' });
  await revokePanel.getByRole('button', { name: "Copy the list's filters" }).click();
  await revokePanel.getByRole('button', { name: 'Preview count' }).click();
  await revokePanel.getByTestId('preview-count').filter({ hasText: '10' }).waitFor();
  t.is(await count(`lastAccessFrom=${(T0 + 30) * 1000}&lastAccessBefore=${(T0 + 90) * 1000}`), 10);
  await filters.getByRole('button', { name: 'Clear filters' }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–20, by start' }).waitFor();

  // Search by username.
  await page.getByLabel('Search (username, IP or client)').fill('bob');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('caption').filter({ hasText: 'Sessions 1–10 (last page)' }).waitFor();
  t.deepEqual([...new Set(await table.locator('tbody tr td:nth-child(2)').allTextContents())], ['bob']);

  // Session detail.
  await table.getByRole('button', { name: /^Details of session/ }).first().click();
  await page.getByRole('heading', { name: /^Session / }).waitFor();
  t.is(await page.locator('.detail dd').first().textContent(), 'bob');
  await page.getByRole('table', { name: 'Client sessions' }).getByText('demo-app').waitFor();
  await page.screenshot({ path: join(shots, 'session-detail.png') });
  await page.getByRole('button', { name: 'Close details' }).click();

  // Select two of bob's sessions → revoke, counts shown, really gone.
  const ids = await table.locator('tbody tr').evaluateAll((rows) => rows.slice(0, 2).map((r) => r.getAttribute('data-session')!));
  const boxes = table.getByRole('checkbox');
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.getByRole('button', { name: 'Revoke 2 selected' }).click();
  await page.getByTestId('session-message').filter({ hasText: 'Revoked 2 sessions, 0 failed.' }).waitFor();
  for (const id of ids) t.is((await a.api('GET', `/demo/sessions/${id}`)).status, 404, `session ${id} is gone`);
  t.is(await count(`ipIn=127.0.0.2`), 8);

  // Revoke by filter with a preview count: bob's remaining sessions from 127.0.0.2.
  await page.getByLabel('IP in (CIDR list)').fill('127.0.0.2/32');
  await page.getByRole('button', { name: 'Preview count' }).click();
  await page.getByTestId('preview-count').filter({ hasText: '8' }).waitFor();
  await page.screenshot({ path: join(shots, 'revoke-by-filter.png'), fullPage: true });
  await page.getByRole('button', { name: 'Revoke 8 sessions' }).click();
  await page.getByTestId('filter-result').filter({ hasText: 'Revoked 8 sessions, 0 failed.' }).waitFor();
  t.is(await count('ipIn=127.0.0.2'), 0);
  t.is(await count('type=REGULAR'), 15);
  await page.getByTestId('total-regular').filter({ hasText: '15' }).waitFor();

  // Users: a user's sessions.
  await page.getByRole('button', { name: 'Users' }).click();
  await page.getByRole('button', { name: 'Sessions of alice' }).click();
  await page.getByRole('table', { name: 'Online sessions (12)' }).waitFor();
  await page.screenshot({ path: join(shots, 'users.png') });
  await axe(t, page, 'users');

  // Events: admin events hold the revocations.
  await page.getByRole('button', { name: 'Events' }).click();
  await page.getByRole('button', { name: 'Admin events' }).click();
  await page.getByRole('table', { name: 'Admin events' }).getByText('sessions/revoke').first().waitFor();
  await page.screenshot({ path: join(shots, 'events.png') });
  await axe(t, page, 'events');

  // Sign out through the end-session endpoint: back at the console, whose sign-in without a form
  // finds no SSO session (login_required), so on to the login page.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Username').waitFor();
  t.regex(page.url(), /\/realms\/master\/protocol\/openid-connect\/auth/);
  t.deepEqual(cspViolations, []);
});

runner('read-only admin: no revoke controls, and a 403 explained', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  await signIn(page, `${a.baseUrl}/admin/demo/console/`, 'carol', 'carol-password');
  const table = page.getByTestId('sessions-table');
  await table.locator('tbody tr').first().waitFor();
  t.is(await table.getByRole('checkbox').count(), 0);
  t.is(await page.getByRole('button', { name: /^Revoke/ }).count(), 0);
  t.is(await page.getByRole('button', { name: /^Sign out .+/ }).count(), 0);
  await page.getByText('Read-only: revoking sessions needs the manage-users role in this realm.').waitFor();
  await page.screenshot({ path: join(shots, 'read-only.png') });
  await axe(t, page, 'read-only sessions');
  await page.getByRole('button', { name: 'Events' }).click();
  await page.getByRole('alert').filter({ hasText: 'You may not read events in this realm' }).waitFor();
  t.pass();
});
