// The redirect back to the client (RFC 6749 §4.1.2, RFC 9207): a code on
// success, an error otherwise, both with `state` and `iss`; Keycloak adds
// `session_state` (the user session id) to a success unless the client sets
// `exclude.session.state.from.auth.response`. Parameters are appended to the
// redirect URI's own query, in Keycloak's order.

import type { RealmRecord } from '../../../realm/model.js';
import { boolAttribute, CLIENT_ATTRIBUTE } from '../../../session/client-settings.js';
import type { FacadeContext } from '../../context.js';
import { newCodeValue } from '../token-endpoint.js';
import type { AuthorizationRequest } from './authorization-request.js';

function withParams(redirectUri: string, params: [string, string | null][]): string {
  const url = new URL(redirectUri);
  for (const [name, value] of params) if (value !== null) url.searchParams.append(name, value);
  return url.href;
}

export function errorRedirectUrl(redirectUri: string, error: string, description: string | null, state: string | null, issuer: string): string {
  return withParams(redirectUri, [
    ['error', error],
    ['error_description', description],
    ['state', state],
    ['iss', issuer],
  ]);
}

/**
 * Stores a single-use code for the session (valid `accessCodeLifespan`) and
 * returns the success redirect, or null when the session's shard has no room
 * for another code.
 */
export async function codeRedirectUrl(ctx: FacadeContext, realm: RealmRecord, req: AuthorizationRequest, sessionId: string, issuer: string, ssoAuth: boolean, now: number): Promise<string | null> {
  const value = newCodeValue();
  const stored = await ctx.engine.putCode(sessionId, value, {
    client: req.client.id,
    redirectUri: req.redirectUriParam,
    scope: req.scope,
    nonce: req.nonce,
    codeChallenge: req.codeChallenge,
    codeChallengeMethod: req.codeChallengeMethod,
    exp: now + realm.sessions.accessCodeLifespan,
    ssoAuth,
  });
  if (!stored) return null;
  const excludeSessionState = boolAttribute(req.client.attributes, CLIENT_ATTRIBUTE.excludeSessionStateFromAuthResponse, false);
  return withParams(req.redirectUri, [
    ['state', req.state],
    ['session_state', excludeSessionState ? null : sessionId],
    ['iss', issuer],
    ['code', `${value}.${sessionId}`],
  ]);
}
