// The admin REST API, with the console's bearer token. Every failure becomes
// an ApiError carrying the status and Keycloak's error text. A GET can be
// started before the view that needs it exists (prefetch): the sign-in asks
// for the first sessions page while whoami is still on its way.

import { accessToken } from './auth.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Prefetched answers are used within this long of being asked for, once. */
const PREFETCH_TTL_MS = 10_000;
const prefetched = new Map();

/** Starts a GET now; the first api('GET', path) within PREFETCH_TTL_MS takes its answer instead of asking again. */
export function prefetch(path) {
  const entry = { answer: request('GET', path), at: Date.now(), value: undefined };
  // Kept for arrived(); a failure waits for the api() call that takes it (none: not reported as unhandled).
  entry.answer.then((value) => (entry.value = value), () => {});
  prefetched.set(path, entry);
}

/** Resolves once the prefetch of `path` (if any) has an answer, whatever it is. */
export function settled(path) {
  return prefetched.get(path)?.answer.then(() => {}, () => {}) ?? Promise.resolve();
}

/** The prefetched answer of `path` if it has arrived, without taking it; else undefined. */
export function arrived(path) {
  const hit = prefetched.get(path);
  return hit !== undefined && Date.now() - hit.at <= PREFETCH_TTL_MS ? hit.value : undefined;
}

export function api(method, path, body) {
  const hit = method === 'GET' ? prefetched.get(path) : undefined;
  if (hit === undefined) return request(method, path, body);
  prefetched.delete(path);
  return Date.now() - hit.at <= PREFETCH_TTL_MS ? hit.answer : request(method, path, body);
}

async function request(method, path, body) {
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
