// The authorization request (`/protocol/openid-connect/auth`, GET query or
// POST form), checked in two stages as Keycloak's AuthorizationEndpoint does:
//
//   1. client and redirect URI: missing/unknown/disabled client or an
//      unregistered redirect URI end on an error page (ErrorPageError), never
//      in a redirect;
//   2. everything else (response_type, scope, PKCE, prompt, max_age, ...)
//      fails as an OAuth error sent to the now trusted redirect URI
//      (ErrorRedirect), with Keycloak's error codes and descriptions.
//
// The checked request travels through the login form as signed claims
// (toClaims/fromClaims); stage 1 runs again when it comes back, so a client
// disabled or a redirect URI unregistered meanwhile is not honoured.

import type { FastifyRequest } from 'fastify';
import type { ClientRecord, RealmRecord } from '../../../realm/model.js';
import { CLIENT_ATTRIBUTE } from '../../../session/client-settings.js';
import type { JwtPayload } from '../../../tokens/jwt.js';
import type { FacadeContext } from '../../context.js';
import { OAuthError } from '../oauth-error.js';
import { baseUrlOf } from '../request-context.js';
import { grantScope } from '../scope.js';
import { BROWSER_MESSAGE, ErrorPageError, ErrorRedirect } from './browser-errors.js';
import { verifyRedirectUri } from './redirect-uri.js';
import { numberClaim, stringClaim } from './signed-form-state.js';

export type BrowserParams = Record<string, string | string[] | undefined>;

/** Longest value accepted for any browser parameter (URLs, state, nonce, tokens fit well within). */
const PARAM_LENGTH_MAX = 8192;
/** RFC 7636 §4.2: code_challenge is 43-128 unreserved characters. */
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;
const PKCE_METHODS: ReadonlySet<string> = new Set(['plain', 'S256']);
const PROMPT_VALUES: ReadonlySet<string> = new Set(['none', 'login', 'consent', 'select_account']);
const MAX_AGE = /^\d{1,9}$/;

export const PROMPT = Object.freeze({ none: 'none', login: 'login', selectAccount: 'select_account' });

/** The request's parameters: the query of a GET, the form of a POST. */
export function paramsOf(request: FastifyRequest): BrowserParams {
  const source = request.method === 'POST' ? request.body : request.query;
  return source !== null && typeof source === 'object' ? (source as BrowserParams) : {};
}

/** One parameter: absent/empty ⇒ undefined; repeated or absurdly long ⇒ error page. */
export function param(params: BrowserParams, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > PARAM_LENGTH_MAX) throw new ErrorPageError(400, `Invalid parameter: ${name}`);
  return value;
}

/** Stage 1's result: what an error redirect needs. */
export interface RedirectTarget {
  client: ClientRecord;
  /** Where to redirect (decoded, normalized). */
  redirectUri: string;
  /** The redirect_uri exactly as sent: the code exchange must present it again. */
  redirectUriParam: string;
  state: string | null;
}

export interface AuthorizationRequest extends RedirectTarget {
  nonce: string | null;
  /** Granted scope (scope.ts), as the client session and the code carry it. */
  scope: string;
  codeChallenge: string | null;
  codeChallengeMethod: string | null;
  prompt: string[];
  maxAge: number | null;
  loginHint: string | null;
}

/** Keycloak's client checks of a browser login. */
export function browserClient(ctx: FacadeContext, realm: RealmRecord, clientId: string | undefined): ClientRecord {
  if (clientId === undefined) throw new ErrorPageError(400, 'Missing parameter: client_id');
  const client = ctx.store.clientByClientId(realm.id, clientId);
  if (client === undefined) throw new ErrorPageError(400, BROWSER_MESSAGE.clientNotFound);
  if (!client.enabled) throw new ErrorPageError(400, BROWSER_MESSAGE.clientDisabled);
  if (client.bearerOnly) throw new ErrorPageError(400, BROWSER_MESSAGE.bearerOnly);
  if (client.protocol !== 'openid-connect') throw new ErrorPageError(400, BROWSER_MESSAGE.wrongProtocol);
  return client;
}

/**
 * Stage 1. Unlike Keycloak, redirect_uri is required even without the
 * `openid` scope: the code exchange compares it with the one sent here.
 */
export function resolveRedirectTarget(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, params: BrowserParams): RedirectTarget {
  const client = browserClient(ctx, realm, param(params, 'client_id'));
  const redirectUriParam = param(params, 'redirect_uri');
  const redirectUri = verifyRedirectUri(redirectUriParam, client.redirectUris, client.rootUrl, baseUrlOf(ctx, request));
  if (redirectUri === null || redirectUriParam === undefined) throw new ErrorPageError(400, BROWSER_MESSAGE.invalidRedirectUri);
  return { client, redirectUri, redirectUriParam, state: param(params, 'state') ?? null };
}

function checkPkce(client: ClientRecord, challenge: string | undefined, method: string | undefined): { codeChallenge: string | null; codeChallengeMethod: string | null } {
  const forced = client.attributes[CLIENT_ATTRIBUTE.pkceCodeChallengeMethod];
  if (forced !== undefined && forced !== '') {
    if (challenge === undefined) throw new ErrorRedirect('invalid_request', 'Missing parameter: code_challenge');
    if (method === undefined) throw new ErrorRedirect('invalid_request', 'Missing parameter: code_challenge_method');
    if (method !== forced) throw new ErrorRedirect('invalid_request', 'Invalid parameter: code challenge method is not configured one');
  } else {
    if (challenge === undefined) {
      if (method !== undefined) throw new ErrorRedirect('invalid_request', 'Missing parameter: code_challenge');
      return { codeChallenge: null, codeChallengeMethod: null };
    }
    if (method !== undefined && !PKCE_METHODS.has(method)) throw new ErrorRedirect('invalid_request', 'Invalid parameter: code_challenge_method');
  }
  if (!CODE_CHALLENGE.test(challenge)) throw new ErrorRedirect('invalid_request', 'Invalid parameter: code_challenge');
  // RFC 7636 §4.3: without a method the challenge is plain.
  return { codeChallenge: challenge, codeChallengeMethod: method ?? 'plain' };
}

/** Stage 2. */
export function checkAuthorizationRequest(target: RedirectTarget, params: BrowserParams): AuthorizationRequest {
  const { client } = target;
  if (param(params, 'request') !== undefined) throw new ErrorRedirect('request_not_supported', 'Request parameter is not supported');
  if (param(params, 'request_uri') !== undefined) throw new ErrorRedirect('request_uri_not_supported', 'request_uri parameter is not supported');
  const responseType = param(params, 'response_type');
  if (responseType === undefined) throw new ErrorRedirect('invalid_request', 'Missing parameter: response_type');
  if (responseType !== 'code') {
    throw new ErrorRedirect('unsupported_response_type', 'Client is not allowed to initiate browser login with given response_type. Only response_type=code is supported by this server.');
  }
  if (!client.standardFlowEnabled) {
    throw new ErrorRedirect('unauthorized_client', 'Client is not allowed to initiate browser login with given response_type. Standard flow is disabled for the client.');
  }
  const responseMode = param(params, 'response_mode');
  if (responseMode !== undefined && responseMode !== 'query') throw new ErrorRedirect('invalid_request', 'Invalid parameter: response_mode');

  let scope: string;
  try {
    scope = grantScope(client, param(params, 'scope')).scope;
  } catch (err) {
    if (err instanceof OAuthError) throw new ErrorRedirect(err.error, err.description);
    throw err;
  }

  const prompt = (param(params, 'prompt') ?? '').split(' ').filter((p) => PROMPT_VALUES.has(p));
  if (prompt.includes(PROMPT.none) && prompt.length > 1) throw new ErrorRedirect('invalid_request', 'Invalid parameter: prompt');

  const maxAgeText = param(params, 'max_age');
  if (maxAgeText !== undefined && !MAX_AGE.test(maxAgeText)) throw new ErrorRedirect('invalid_request', 'Invalid parameter: max_age');

  return {
    ...target,
    nonce: param(params, 'nonce') ?? null,
    scope,
    ...checkPkce(client, param(params, 'code_challenge'), param(params, 'code_challenge_method')),
    prompt,
    maxAge: maxAgeText === undefined ? null : Number.parseInt(maxAgeText, 10),
    loginHint: param(params, 'login_hint')?.slice(0, 255) ?? null,
  };
}

/** The request as signed form-state claims (short names: it rides in a hidden field). */
export function toClaims(req: AuthorizationRequest): JwtPayload {
  return {
    azp: req.client.clientId,
    ru: req.redirectUriParam,
    st: req.state,
    no: req.nonce,
    sc: req.scope,
    cc: req.codeChallenge,
    ccm: req.codeChallengeMethod,
    pr: req.prompt.join(' '),
    ma: req.maxAge,
  };
}

/** The request back from verified claims; stage 1 is checked again (ErrorPageError when it no longer holds). */
export function fromClaims(ctx: FacadeContext, request: FastifyRequest, realm: RealmRecord, claims: JwtPayload): AuthorizationRequest {
  const client = browserClient(ctx, realm, stringClaim(claims, 'azp') ?? undefined);
  const redirectUriParam = stringClaim(claims, 'ru');
  const redirectUri = verifyRedirectUri(redirectUriParam ?? undefined, client.redirectUris, client.rootUrl, baseUrlOf(ctx, request));
  if (redirectUri === null || redirectUriParam === null) throw new ErrorPageError(400, BROWSER_MESSAGE.invalidRedirectUri);
  const prompt = stringClaim(claims, 'pr') ?? '';
  return {
    client,
    redirectUri,
    redirectUriParam,
    state: stringClaim(claims, 'st'),
    nonce: stringClaim(claims, 'no'),
    scope: stringClaim(claims, 'sc') ?? '',
    codeChallenge: stringClaim(claims, 'cc'),
    codeChallengeMethod: stringClaim(claims, 'ccm'),
    prompt: prompt === '' ? [] : prompt.split(' '),
    maxAge: numberClaim(claims, 'ma'),
    loginHint: null,
  };
}
