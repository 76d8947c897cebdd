// OAuth errors as the OIDC endpoints answer them: HTTP status, the wire
// `error` code and Keycloak's `error_description` (RFC 6749 §5.2). Only
// conditions the caller caused become OAuthErrors; anything else is a 500
// whose details stay in the log.

export class OAuthError extends Error {
  readonly status: number;
  readonly error: string;
  readonly description: string;
  /** Extra response headers (WWW-Authenticate on bearer endpoints). */
  readonly headers: Record<string, string>;

  constructor(status: number, error: string, description: string, headers: Record<string, string> = {}) {
    super(description);
    this.status = status;
    this.error = error;
    this.description = description;
    this.headers = headers;
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string): OAuthError => new OAuthError(400, 'invalid_request', description);
export const invalidGrant = (description: string, status = 400): OAuthError => new OAuthError(status, 'invalid_grant', description);
export const invalidScope = (description: string): OAuthError => new OAuthError(400, 'invalid_scope', description);
export const unauthorizedClient = (description: string, status = 400): OAuthError => new OAuthError(status, 'unauthorized_client', description);
export const unsupportedGrantType = (description = 'Unsupported grant_type'): OAuthError => new OAuthError(400, 'unsupported_grant_type', description);
export const notAllowed = (description: string): OAuthError => new OAuthError(400, 'not_allowed', description);
/** Keycloak answers every client-authentication failure with this one description. */
export const INVALID_CLIENT_CREDENTIALS = 'Invalid client or Invalid client credentials';
export const invalidClient = (error: 'invalid_client' | 'unauthorized_client' = 'invalid_client'): OAuthError =>
  new OAuthError(401, error, INVALID_CLIENT_CREDENTIALS);
/** Bearer endpoints (userinfo): 401 with WWW-Authenticate (RFC 6750 §3). */
export const invalidToken = (description: string, realm: string): OAuthError =>
  new OAuthError(401, 'invalid_token', description, {
    'www-authenticate': `Bearer realm="${realm.replace(/["\\]/g, '')}", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`,
  });
/** Bearer endpoints: 403 when the token lacks a scope the endpoint needs (RFC 6750 §3.1). */
export const insufficientScope = (description: string, realm: string): OAuthError =>
  new OAuthError(403, 'insufficient_scope', description, {
    'www-authenticate': `Bearer realm="${realm.replace(/["\\]/g, '')}", error="insufficient_scope", error_description="${description.replace(/["\\]/g, '')}"`,
  });
