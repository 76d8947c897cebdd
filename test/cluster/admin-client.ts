// The few admin REST calls the cluster scenarios make (Keycloak's paths):
// a master-realm token for the bootstrap admin, a user's id by username, and
// a user update. Each with a deadline: a cluster may answer an admin write
// late (it waits until every live member applied it) or refuse it (503 while
// etcd is away).

/** The bootstrap admin a fresh node creates (SESSIOND_BOOTSTRAP_ADMIN_* unset). */
const ADMIN = { username: 'admin', password: 'admin', clientId: 'admin-cli' };
/** Deadline of an admin call: a write waits for every live member to apply it. */
export const ADMIN_DEADLINE_MS = 10_000;

export async function adminToken(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/realms/master/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: ADMIN.clientId, username: ADMIN.username, password: ADMIN.password }),
    signal: AbortSignal.timeout(ADMIN_DEADLINE_MS),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || body.access_token === undefined) throw new Error(`admin login on ${baseUrl}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

export async function userIdOf(baseUrl: string, token: string, realm: string, username: string): Promise<string> {
  const res = await fetch(`${baseUrl}/admin/realms/${realm}/users?exact=true&username=${encodeURIComponent(username)}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(ADMIN_DEADLINE_MS),
  });
  const users = (await res.json()) as Array<{ id: string; username: string }>;
  const user = Array.isArray(users) ? users.find((u) => u.username === username) : undefined;
  if (user === undefined) throw new Error(`no user ${username} in ${realm}: ${res.status} ${JSON.stringify(users)}`);
  return user.id;
}

/** PUT a (partial) user representation; the HTTP status, or 'unknown' past the deadline or on a connection error. */
export async function updateUser(baseUrl: string, token: string, realm: string, id: string, representation: Record<string, unknown>): Promise<number | 'unknown'> {
  try {
    const res = await fetch(`${baseUrl}/admin/realms/${realm}/users/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(representation),
      signal: AbortSignal.timeout(ADMIN_DEADLINE_MS),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 'unknown';
  }
}
