// The two ways a browser request fails, as Keycloak's AuthorizationEndpoint
// tells them apart: before the client and its redirect URI are trusted, the
// user sees an error page (never a redirect: an unverified redirect_uri would
// make the server an open redirector); after that, the client gets an OAuth
// error in its redirect URI's query.

/** Render an HTML error page with this status and message. */
export class ErrorPageError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Redirect to the (already verified) redirect URI with `error`, `error_description`, `state` and `iss`. */
export class ErrorRedirect extends Error {
  readonly error: string;
  readonly description: string | null;

  constructor(error: string, description: string | null) {
    super(description ?? error);
    this.error = error;
    this.description = description;
  }
}

/** Keycloak's English messages for the pages sessiond shows. */
export const BROWSER_MESSAGE = Object.freeze({
  invalidUser: 'Invalid username or password.',
  accountDisabled: 'Account is disabled, contact your administrator.',
  accountNotSetUp: 'Account is not fully set up. Required actions (such as updating a temporary password) cannot be completed on this server; ask an administrator to clear them.',
  clientNotFound: 'Client not found.',
  clientDisabled: 'Client disabled.',
  bearerOnly: 'Bearer-only applications are not allowed to initiate browser login.',
  wrongProtocol: 'Wrong client protocol.',
  invalidRedirectUri: 'Invalid parameter: redirect_uri',
  invalidPostLogoutRedirectUri: 'Invalid redirect uri',
  cookieNotFound: 'Cookie not found. Please make sure cookies are enabled in your browser.',
  invalidForm: 'The form is invalid or has expired. Please start again from the application.',
  loginTimeout: 'Your login attempt timed out. Login will start from the beginning.',
  sessionLimit: 'There are too many sessions',
  sessionNotActive: 'Session not active',
  failedLogout: 'Logout failed',
  loggedOut: 'You are logged out',
  realmNotFound: 'Realm does not exist',
  unavailable: 'The server is busy. Please try again in a moment.',
  differentUser: (username: string): string => `You are already authenticated as different user '${username}' in this session. Please sign out first.`,
});
