// Errors of the admin REST API in Keycloak's shapes: `{"error": "..."}` for
// 401/403/404 (its JAX-RS exception mapper), `{"errorMessage": "..."}` for
// validation failures and conflicts (ErrorResponse / ErrorRepresentation).
// The admin client surfaces these bodies as `responseData`.

export class AdminError extends Error {
  readonly status: number;
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    super(String(body['error'] ?? body['errorMessage'] ?? status));
    this.status = status;
    this.body = body;
  }
}

export const unauthorized = (): AdminError => new AdminError(401, { error: 'HTTP 401 Unauthorized' });
export const forbidden = (): AdminError => new AdminError(403, { error: 'HTTP 403 Forbidden' });
export const notFound = (message: string): AdminError => new AdminError(404, { error: message });
export const conflict = (message: string): AdminError => new AdminError(409, { errorMessage: message });
export const badRequest = (message: string, field?: string): AdminError =>
  new AdminError(400, field === undefined ? { errorMessage: message } : { errorMessage: message, field });
