// JSON Schemas of the admin API's path parameters, queries and bodies, by
// route. The admin plugin attaches them as routes are added (onRoute), so
// route modules stay about behaviour; Fastify validates with them and
// @fastify/swagger turns them into the OpenAPI document served at
// /openapi.json on the management port.
//
// Query values stay strings here (the admin client sends everything as
// text); paging.ts and the routes convert and range-check them, so a bad
// value is a Keycloak-shaped 400 rather than a schema message.

const id = { type: 'string', minLength: 1, maxLength: 255 } as const;
const text = (maxLength = 1024): object => ({ type: 'string', maxLength });
const integerText = { type: 'string', pattern: '^-?[0-9]{1,15}$' } as const;
const booleanText = { type: 'string', enum: ['true', 'false'] } as const;
const paging = { first: integerText, max: integerText };
const object = { type: 'object' } as const;
const anyArray = { type: 'array' } as const;

function params(...names: string[]): object {
  return { type: 'object', properties: Object.fromEntries(names.map((n) => [n, id])), required: names };
}

function query(properties: Record<string, object>): object {
  return { type: 'object', properties, additionalProperties: true };
}

export interface RouteDoc {
  summary: string;
  tags: string[];
  params?: object;
  querystring?: object;
  body?: object;
}

const sessionTypeText = { type: 'string', enum: ['ALL', 'REGULAR', 'OFFLINE', 'all', 'regular', 'offline'] } as const;
const filterQuery = query({
  userId: text(255),
  clientId: text(255),
  type: sessionTypeText,
  ipIn: text(8192),
  ipNotIn: text(8192),
  lastAccessFrom: integerText,
  lastAccessBefore: integerText,
});
/** sessiond's filter and sort of the ui-ext list (checked by the route, for Keycloak-shaped 400s). */
const listQuery = {
  userId: text(255),
  ipIn: text(8192),
  ipNotIn: text(8192),
  lastAccessFrom: text(32),
  lastAccessBefore: text(32),
  sort: text(32),
  order: text(32),
};

/** `METHOD url` (as registered under the /admin/realms prefix) → its schema and documentation. */
export const ADMIN_ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /admin/realms/': { summary: 'List the realms the caller may see', tags: ['realms'] },
  'POST /admin/realms/': { summary: 'Create a realm (RealmRepresentation, may include clients, users, roles)', tags: ['realms'], body: object },
  'GET /admin/realms/:realm': { summary: 'Get a realm', tags: ['realms'], params: params('realm') },
  'PUT /admin/realms/:realm': { summary: 'Update a realm (timeouts, notBefore, rememberMe, revokeRefreshToken, events...)', tags: ['realms'], params: params('realm'), body: object },
  'DELETE /admin/realms/:realm': { summary: 'Delete a realm and everything in it', tags: ['realms'], params: params('realm') },
  'GET /admin/realms/:realm/roles': { summary: 'List realm roles', tags: ['roles'], params: params('realm'), querystring: query({ search: text(255), ...paging }) },
  'POST /admin/realms/:realm/roles': { summary: 'Create a realm role', tags: ['roles'], params: params('realm'), body: object },
  'GET /admin/realms/:realm/roles/:role': { summary: 'Get a realm role', tags: ['roles'], params: params('realm', 'role') },
  'DELETE /admin/realms/:realm/roles/:role': { summary: 'Delete a realm role', tags: ['roles'], params: params('realm', 'role') },
  'POST /admin/realms/:realm/partialImport': { summary: 'Import users, clients and realm roles in bulk (ifResourceExists FAIL/SKIP/OVERWRITE)', tags: ['realms'], params: params('realm'), body: object },

  'GET /admin/realms/:realm/clients': { summary: 'List clients (clientId exact, or search=true for substring)', tags: ['clients'], params: params('realm'), querystring: query({ clientId: text(255), search: booleanText, viewableOnly: booleanText, ...paging }) },
  'POST /admin/realms/:realm/clients': { summary: 'Create a client (201 with Location)', tags: ['clients'], params: params('realm'), body: object },
  'GET /admin/realms/:realm/clients/:id': { summary: 'Get a client', tags: ['clients'], params: params('realm', 'id') },
  'PUT /admin/realms/:realm/clients/:id': { summary: 'Update a client (attributes, notBefore, adminUrl...)', tags: ['clients'], params: params('realm', 'id'), body: object },
  'DELETE /admin/realms/:realm/clients/:id': { summary: 'Delete a client, its client sessions and offline sessions', tags: ['clients'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/clients/:id/client-secret': { summary: "Get the client's secret", tags: ['clients'], params: params('realm', 'id') },
  'POST /admin/realms/:realm/clients/:id/client-secret': { summary: 'Generate a new client secret', tags: ['clients'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/clients/:id/service-account-user': { summary: "The client's service-account user", tags: ['clients'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/clients/:id/roles': { summary: 'List client roles', tags: ['clients'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/clients/:id/roles/:role': { summary: 'Get a client role', tags: ['clients'], params: params('realm', 'id', 'role') },
  'POST /admin/realms/:realm/clients/:id/roles': { summary: 'Create a client role', tags: ['clients'], params: params('realm', 'id'), body: object },

  'GET /admin/realms/:realm/users': { summary: 'Find users (username/exact/search/email/first/max)', tags: ['users'], params: params('realm'), querystring: query({ search: text(255), username: text(255), email: text(255), exact: booleanText, enabled: booleanText, briefRepresentation: booleanText, ...paging }) },
  'GET /admin/realms/:realm/users/count': { summary: 'Count users', tags: ['users'], params: params('realm'), querystring: query({ search: text(255), username: text(255), email: text(255), enabled: booleanText }) },
  'POST /admin/realms/:realm/users': { summary: 'Create a user (201 with Location; credentials hashed with the realm policy)', tags: ['users'], params: params('realm'), body: object },
  'GET /admin/realms/:realm/users/:id': { summary: 'Get a user', tags: ['users'], params: params('realm', 'id') },
  'PUT /admin/realms/:realm/users/:id': { summary: 'Update a user', tags: ['users'], params: params('realm', 'id'), body: object },
  'DELETE /admin/realms/:realm/users/:id': { summary: 'Delete a user, its sessions and offline sessions', tags: ['users'], params: params('realm', 'id') },
  'PUT /admin/realms/:realm/users/:id/reset-password': { summary: "Set a user's password", tags: ['users'], params: params('realm', 'id'), body: object },
  'GET /admin/realms/:realm/users/:id/role-mappings': { summary: "A user's role mappings", tags: ['users'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/users/:id/role-mappings/realm': { summary: "A user's realm roles", tags: ['users'], params: params('realm', 'id') },
  'POST /admin/realms/:realm/users/:id/role-mappings/realm': { summary: 'Add realm roles to a user', tags: ['users'], params: params('realm', 'id'), body: anyArray },
  'DELETE /admin/realms/:realm/users/:id/role-mappings/realm': { summary: 'Remove realm roles from a user', tags: ['users'], params: params('realm', 'id'), body: anyArray },
  'GET /admin/realms/:realm/users/:id/role-mappings/clients/:client': { summary: "A user's roles of one client", tags: ['users'], params: params('realm', 'id', 'client') },
  'POST /admin/realms/:realm/users/:id/role-mappings/clients/:client': { summary: 'Add client roles to a user', tags: ['users'], params: params('realm', 'id', 'client'), body: anyArray },
  'DELETE /admin/realms/:realm/users/:id/role-mappings/clients/:client': { summary: 'Remove client roles from a user', tags: ['users'], params: params('realm', 'id', 'client'), body: anyArray },

  'GET /admin/realms/:realm/attack-detection/brute-force/users/:id': { summary: "A user's brute-force state (failures, lockout)", tags: ['attack-detection'], params: params('realm', 'id') },
  'DELETE /admin/realms/:realm/attack-detection/brute-force/users/:id': { summary: "Clear a user's login failures (ends a temporary lockout)", tags: ['attack-detection'], params: params('realm', 'id') },
  'DELETE /admin/realms/:realm/attack-detection/brute-force/users': { summary: "Clear every user's login failures in the realm", tags: ['attack-detection'], params: params('realm') },

  'GET /admin/realms/:realm/users/:id/sessions': { summary: "A user's online sessions (UserSessionRepresentation[])", tags: ['sessions'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/users/:id/offline-sessions/:clientUuid': { summary: "A user's offline sessions holding a client (client UUID)", tags: ['sessions'], params: params('realm', 'id', 'clientUuid') },
  'POST /admin/realms/:realm/users/:id/logout': { summary: "End every online session of a user and set the user's not-before", tags: ['sessions'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/users/:id/consents': { summary: "A user's consents and offline grants", tags: ['sessions'], params: params('realm', 'id') },
  'DELETE /admin/realms/:realm/users/:id/consents/:clientId': { summary: 'Revoke a consent and the offline sessions of that client (clientId, not UUID)', tags: ['sessions'], params: params('realm', 'id', 'clientId') },
  'GET /admin/realms/:realm/clients/:id/user-sessions': { summary: 'Online sessions holding a client, paged', tags: ['sessions'], params: params('realm', 'id'), querystring: query(paging) },
  'GET /admin/realms/:realm/clients/:id/offline-sessions': { summary: 'Offline sessions holding a client, paged', tags: ['sessions'], params: params('realm', 'id'), querystring: query(paging) },
  'GET /admin/realms/:realm/clients/:id/session-count': { summary: 'Online client sessions of a client ({count})', tags: ['sessions'], params: params('realm', 'id') },
  'GET /admin/realms/:realm/clients/:id/offline-session-count': { summary: 'Offline client sessions of a client ({count})', tags: ['sessions'], params: params('realm', 'id') },
  'POST /admin/realms/:realm/clients/:id/push-revocation': { summary: "Send the client's not-before to its admin URL (GlobalRequestResult)", tags: ['sessions'], params: params('realm', 'id') },
  'DELETE /admin/realms/:realm/sessions/:session': { summary: 'End one session (isOffline=true for an offline one)', tags: ['sessions'], params: params('realm', 'session'), querystring: query({ isOffline: booleanText }) },
  'POST /admin/realms/:realm/logout-all': { summary: "End every online session of the realm; set the realm's not-before", tags: ['sessions'], params: params('realm') },
  'POST /admin/realms/:realm/push-revocation': { summary: "Send the realm's not-before to every client with an admin URL", tags: ['sessions'], params: params('realm') },
  'GET /admin/realms/:realm/client-session-stats': { summary: 'Per client with sessions: active and offline counts (as strings)', tags: ['sessions'], params: params('realm') },
  'GET /admin/realms/:realm/ui-ext/sessions': { summary: 'Realm-wide session search (admin console), paged inside the engine; sessiond adds filters (userId, ipIn, ipNotIn, lastAccessFrom, lastAccessBefore) and sort (start, lastAccess) with order (asc, desc)', tags: ['sessions'], params: params('realm'), querystring: query({ type: sessionTypeText, search: text(255), ...listQuery, ...paging }) },
  'GET /admin/realms/:realm/ui-ext/sessions/client': { summary: "Session search within one client's sessions (clientId = client UUID), with the same filters and sort", tags: ['sessions'], params: params('realm'), querystring: query({ clientId: text(255), type: sessionTypeText, search: text(255), ...listQuery, ...paging }) },
  'POST /admin/realms/:realm/sessions/revoke': { summary: 'sessiond: end sessions by ids or by filter (userId, clientId, type, ipIn, ipNotIn, lastAccessFrom, lastAccessBefore)', tags: ['sessiond extensions'], params: params('realm'), body: object },
  'GET /admin/realms/:realm/sessions/count': { summary: 'sessiond: count sessions matching a filter', tags: ['sessiond extensions'], params: params('realm'), querystring: filterQuery },
  'GET /admin/realms/:realm/sessions/:id': { summary: 'sessiond: one session with its client sessions, timestamps and validity', tags: ['sessiond extensions'], params: params('realm', 'id') },

  'GET /admin/realms/:realm/events': { summary: 'User events, newest first', tags: ['events'], params: params('realm'), querystring: query({ type: { anyOf: [text(64), { type: 'array', items: text(64) }] }, client: text(255), user: text(255), ipAddress: text(64), dateFrom: text(32), dateTo: text(32), ...paging }) },
  'DELETE /admin/realms/:realm/events': { summary: 'Delete all user events of the realm', tags: ['events'], params: params('realm') },
  'GET /admin/realms/:realm/events/config': { summary: "The realm's event settings", tags: ['events'], params: params('realm') },
  'PUT /admin/realms/:realm/events/config': { summary: "Update the realm's event settings", tags: ['events'], params: params('realm'), body: object },
  'GET /admin/realms/:realm/admin-events': { summary: 'Admin events, newest first', tags: ['events'], params: params('realm'), querystring: query({ operationTypes: { anyOf: [text(64), { type: 'array', items: text(64) }] }, resourceTypes: { anyOf: [text(64), { type: 'array', items: text(64) }] }, resourcePath: text(1024), authUser: text(255), authClient: text(255), authIpAddress: text(64), dateFrom: text(32), dateTo: text(32), ...paging }) },
  'DELETE /admin/realms/:realm/admin-events': { summary: 'Delete all admin events of the realm', tags: ['events'], params: params('realm') },
};

/** Schema and docs for a route as Fastify's onRoute hook sees it (url includes the prefix). */
export function adminRouteDoc(method: string, url: string): RouteDoc | undefined {
  return ADMIN_ROUTE_DOCS[`${method} ${url}`];
}
