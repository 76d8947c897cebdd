// JSON Schemas of the OIDC endpoints' form bodies and queries. Form fields
// are strings; a repeated field (an array after parsing) is refused, as is
// anything absurdly long. Unknown fields are allowed (clients send extras),
// but must be strings too.

const text = (maxLength: number): object => ({ type: 'string', maxLength });
const TOKEN_MAX = 16_384;

const formObject = (properties: Record<string, object>): object => ({
  type: 'object',
  properties,
  additionalProperties: text(4096),
});

export const REALM_PARAMS = {
  type: 'object',
  properties: { realm: text(255) },
  required: ['realm'],
} as const;

export const TOKEN_BODY = formObject({
  grant_type: text(128),
  client_id: text(255),
  client_secret: text(1024),
  username: text(255),
  password: text(1024),
  scope: text(2048),
  code: text(1024),
  redirect_uri: text(2048),
  code_verifier: text(256),
  refresh_token: text(TOKEN_MAX),
  client_session_state: text(255),
  client_session_host: text(255),
});

export const INTROSPECT_BODY = formObject({
  token: text(TOKEN_MAX),
  token_type_hint: text(64),
  client_id: text(255),
  client_secret: text(1024),
});

export const REVOKE_BODY = INTROSPECT_BODY;

export const USERINFO_BODY = formObject({ access_token: text(TOKEN_MAX) });

export const LOGOUT_BODY = formObject({
  refresh_token: text(TOKEN_MAX),
  client_id: text(255),
  client_secret: text(1024),
  id_token_hint: text(TOKEN_MAX),
  post_logout_redirect_uri: text(2048),
  state: text(2048),
  ui_locales: text(255),
  logout_hint: text(255),
});
