// The admin REST API, with the console's bearer token. Every failure becomes
// an ApiError carrying the status and Keycloak's error text.

import { accessToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const res = await fetch(path.startsWith('/admin/') ? path : `/admin/realms${path}`, {
    method,
    headers: {
      authorization: `Bearer ${accessToken()}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = text;
  }
  if (!res.ok) {
    const message = (data && (data.errorMessage || data.error_description || data.error)) || `HTTP ${res.status}`;
    throw new ApiError(res.status, message);
  }
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text === '' ? '' : `?${text}`;
}

/** A human sentence for a failed call, 403s explained. */
export function explain(err, what) {
  if (err instanceof ApiError && err.status === 403) return `You may not ${what} in this realm: your account lacks the admin role it needs (ask a realm administrator).`;
  if (err instanceof ApiError && err.status === 401) return 'Your sign-in expired; sign in again.';
  return `Could not ${what}: ${err.message}`;
}
