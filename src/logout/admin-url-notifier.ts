// Keycloak's legacy adapter notifications (docs/keycloak-semantics.md#not-before-revocation, #what-clients-receive): a signed JWS
// POSTed as text to `<adminUrl>/k_push_not_before` (push-revocation) or
// `<adminUrl>/k_logout` (logout-all), with
// `{id, expiration: now+30, resource: clientId, action, notBefore}`. The
// answer is Keycloak's GlobalRequestResult: which management URLs took it.

import { randomUUID } from 'node:crypto';
import type { ClientRecord, RealmRecord } from '../realm/model.js';
import type { KeyRing } from '../tokens/key-ring.js';

const ADMIN_URL_TIMEOUT_MS = 5_000;
const ACTION_LIFETIME_S = 30;

export interface GlobalRequestResult {
  successRequests?: string[];
  failedRequests?: string[];
}

export type AdminAction = 'PUSH_NOT_BEFORE' | 'LOGOUT';

/** Sends `action` to every client with an admin URL; resolves with Keycloak's result shape. */
export async function notifyAdminUrls(
  keys: KeyRing,
  realm: RealmRecord,
  clients: readonly ClientRecord[],
  action: AdminAction,
  notBeforeOf: (client: ClientRecord) => number,
  nowSeconds: number,
): Promise<GlobalRequestResult> {
  const signer = keys.signer(realm.id, realm.defaultSignatureAlgorithm);
  // Keycloak's ResourceAdminManager skips disabled clients for k_logout
  // (logoutClient) but pushes not-before to every client with a management URL
  // (pushRevocationPolicy has no enabled check).
  const targets = clients.filter((c) => (c.enabled || action === 'PUSH_NOT_BEFORE') && c.adminUrl !== null && c.adminUrl.trim() !== '');
  const result: GlobalRequestResult = {};
  if (signer === undefined || targets.length === 0) return result;
  const path = action === 'LOGOUT' ? 'k_logout' : 'k_push_not_before';
  await Promise.all(
    targets.map(async (client) => {
      const url = `${client.adminUrl!.replace(/\/+$/, '')}/${path}`;
      const token = signer.sign({
        id: randomUUID(),
        expiration: nowSeconds + ACTION_LIFETIME_S,
        resource: client.clientId,
        action,
        notBefore: notBeforeOf(client),
        ...(action === 'LOGOUT' ? { adapterSessionIds: [], keycloakSessionIds: [] } : {}),
      });
      let ok = false;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'text/plain' },
          body: token,
          redirect: 'manual',
          signal: AbortSignal.timeout(ADMIN_URL_TIMEOUT_MS),
        });
        await response.body?.cancel();
        ok = response.status === 200 || response.status === 204;
      } catch {
        ok = false;
      }
      const list = ok ? (result.successRequests ??= []) : (result.failedRequests ??= []);
      list.push(url);
    }),
  );
  return result;
}
