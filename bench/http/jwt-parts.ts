// Reading tokens the bench received (never verifying them: the bench only
// needs their shape, to build the bare server's templates and to learn a
// server's signature algorithm).

export type Claims = Record<string, unknown>;

export interface JwtParts {
  header: Claims;
  payload: Claims;
}

export function decodeJwt(token: string): JwtParts {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const json = (segment: string): Claims => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Claims;
  return { header: json(parts[0]!), payload: json(parts[1]!) };
}

/** Whether `token` looks like a JWT at all (Keycloak and sessiond: always; oidc-provider: opaque by default). */
export function isJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}
