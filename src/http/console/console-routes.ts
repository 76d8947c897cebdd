// The admin web console (docs/console.md), served by the node at Keycloak's
// path `/admin/{realm}/console/`; `/admin/` redirects to the master realm's.
// The page is a single-page app bundled by `npm run build` (console/ →
// dist/console/app.js and app.css, esbuild); nothing loads from elsewhere,
// and the page's Content-Security-Policy allows only this origin's script,
// style and API calls. The app logs in through the realm's
// `security-admin-console` client (authorization code + PKCE), which is
// created here when a realm lacks it, as Keycloak does, and then works only
// through the admin REST API.
//
// The page names its bundle with a hash of its content (`app.js?v=<hash>`), and
// a request naming the current hash may be cached for good: a sign-in through
// the login form loads the page twice (before and after the form), the bundle
// once. (With the browser's SSO session the app signs in without leaving the
// page: the auth endpoint's redirect back here is followed by a fetch.)
//
// `GET /admin/{realm}/console/whoami` is Keycloak's AdminConsole.whoAmI: who
// the bearer is and which admin roles they hold in each realm they may see,
// so the app shows only the controls its user may use.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ADMIN_CONSOLE_CLIENT_ID, MASTER_REALM_NAME, adminConsoleClient } from '../../realm/defaults.js';
import type { RealmRecord } from '../../realm/model.js';
import type { FacadeContext } from '../context.js';
import { allowed, authenticateAdmin, type AdminRole } from '../admin/admin-auth.js';
import { AdminError } from '../admin/admin-error.js';

/** Where `npm run build` puts the bundle (this file runs from dist/src/http/console). */
const BUNDLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

const ADMIN_ROLES: readonly AdminRole[] = [
  'view-realm', 'manage-realm', 'view-users', 'manage-users', 'view-clients', 'manage-clients', 'view-events', 'manage-events',
];

/** A bundle file and the hash that names its content. */
interface Asset {
  bytes: Buffer;
  version: string;
}

function page(realm: RealmRecord, versions: { js: string; css: string }): string {
  const name = realm.name.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="sessiond-realm" content="${name}">
<meta name="sessiond-client" content="${ADMIN_CONSOLE_CLIENT_ID}">
<title>sessiond console · ${name}</title>
<link rel="stylesheet" href="app.css?v=${versions.css}">
<script type="module" src="app.js?v=${versions.js}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading the sessiond console…</p></div>
<noscript>The sessiond console needs JavaScript.</noscript>
</body>
</html>
`;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store');
}

export function registerConsoleRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  const cache = new Map<string, Asset>();
  const asset = async (file: string): Promise<Asset | null> => {
    const hit = cache.get(file);
    if (hit !== undefined) return hit;
    try {
      const bytes = await readFile(`${BUNDLE_DIR}${file}`);
      const loaded = { bytes, version: createHash('sha256').update(bytes).digest('base64url').slice(0, 16) };
      cache.set(file, loaded);
      return loaded;
    } catch {
      return null;
    }
  };

  /** The realm of the path, with its console client made when absent. */
  const consoleRealm = async (name: string): Promise<RealmRecord | undefined> => {
    const realm = ctx.store.realmByName(name);
    if (realm !== undefined && ctx.store.clientByClientId(realm.id, ADMIN_CONSOLE_CLIENT_ID) === undefined) {
      await ctx.store.putClient(adminConsoleClient(realm));
    }
    return realm;
  };

  app.get('/admin', async (_request, reply) => reply.redirect(`/admin/${MASTER_REALM_NAME}/console/`, 302));

  app.get('/admin/:realm/console', async (request, reply) => {
    const { realm: name } = request.params as { realm: string };
    // Relative asset URLs need the trailing slash.
    if (!request.url.split('?')[0]!.endsWith('/')) return reply.redirect(`/admin/${encodeURIComponent(name)}/console/`, 302);
    const realm = await consoleRealm(name);
    if (realm === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Realm not found.');
    const [js, css] = await Promise.all([asset('app.js'), asset('app.css')]);
    if (js === null || css === null) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The console is not built: run `npm run build`.');
    }
    return securityHeaders(reply).type('text/html; charset=utf-8').send(page(realm, { js: js.version, css: css.version }));
  });

  app.get('/admin/:realm/console/:file', async (request, reply) => {
    const { file } = request.params as { realm: string; file: string };
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (type === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not found.');
    const found = await asset(file);
    if (found === null) return reply.code(404).type('text/plain; charset=utf-8').send('Not found.');
    const current = (request.query as { v?: string }).v === found.version;
    return securityHeaders(reply).header('cache-control', current ? 'public, max-age=31536000, immutable' : 'no-cache').type(type).send(found.bytes);
  });

  app.get('/admin/:realm/console/whoami', async (request, reply) => {
    let admin;
    try {
      admin = await authenticateAdmin(ctx, request);
    } catch (err) {
      if (err instanceof AdminError) return reply.code(err.status).send(err.body);
      throw err;
    }
    const realmAccess: Record<string, AdminRole[]> = {};
    for (const realm of ctx.store.realms()) {
      const roles = ADMIN_ROLES.filter((role) => allowed(admin, realm, role));
      if (roles.length > 0) realmAccess[realm.name] = roles;
    }
    const user = admin.user;
    return reply.header('cache-control', 'no-store').send({
      userId: user.id,
      realm: admin.realm.name,
      displayName: [user.firstName, user.lastName].filter((x) => x !== null && x !== '').join(' ') || user.username,
      locale: 'en',
      createRealm: admin.superAdmin,
      realm_access: realmAccess,
    });
  });
}
