// The access log (`--access-log`, off by default): one `access` line per
// public HTTP request, written through the node's logger once the response is
// sent. A line carries what an operator needs to trace a request and nothing a
// reader of the log could replay: the URL's query values whose names carry
// codes, tokens, secrets or passwords are replaced by `[redacted]`, and
// headers (Authorization, Cookie) and bodies (where forms carry passwords and
// client secrets) are never logged at all.

import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

export const REDACTED = '[redacted]';

/**
 * Query parameters whose values are secrets or bearer material: OAuth codes
 * and PKCE verifiers, tokens and hints that are tokens, client credentials,
 * passwords, and the login-action codes and keys of the browser flow.
 */
export const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'code',
  'code_verifier',
  'session_code',
  'key',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'id_token_hint',
  'logout_token',
  'client_secret',
  'client_assertion',
  'password',
  'assertion',
]);

/** The request URL with every secret query value replaced; the path and other parameters as sent. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const parts = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replaceAll('+', ' '));
    } catch {
      // A name that does not decode cannot be matched: its value is withheld rather than guessed at.
      return eq < 0 ? pair : `${rawName}=${REDACTED}`;
    }
    return eq >= 0 && SECRET_QUERY_PARAMS.has(name.toLowerCase()) ? `${rawName}=${REDACTED}` : pair;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** Adds the access-log hook to a server. */
export function registerAccessLog(app: FastifyInstance, log: Logger): void {
  const access = log.child({ log: 'access' });
  app.addHook('onResponse', async (request, reply) => {
    const length = reply.getHeader('content-length');
    access.info(
      {
        method: request.method,
        url: redactUrl(request.url),
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        ip: request.ip,
        bytes: typeof length === 'number' ? length : typeof length === 'string' ? Number(length) : null,
      },
      'access',
    );
  });
}
