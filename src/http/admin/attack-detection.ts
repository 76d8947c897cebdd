// Keycloak's AttackDetectionResource: the brute-force state of a user, and
// clearing it (docs/admin-api.md#attack-detection).
//
//   GET    /admin/realms/{realm}/attack-detection/brute-force/users/{userId}   view-users
//   DELETE /admin/realms/{realm}/attack-detection/brute-force/users/{userId}   manage-users
//   DELETE /admin/realms/{realm}/attack-detection/brute-force/users           manage-users
//
// The GET answers Keycloak's map even for an unknown user id or a realm
// without detection (then the zero values). `failedLoginNotBefore` is the
// lockout's end while temporarily locked, Java's Long.MAX_VALUE while
// permanently locked (a number JSON.stringify cannot write exactly, so the
// body is written by hand), and 0 otherwise. Clearing a record releases a
// temporary lockout; a permanently locked user stays disabled until an admin
// enables them (PUT /users/{id} with "enabled": true, which also clears).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isPermanentlyLocked, isTemporarilyLocked, type LoginFailureRecord } from '../../session/brute-force.js';
import type { RealmRecord } from '../../realm/model.js';
import type { FacadeContext } from '../context.js';
import { auditAdmin, targetRealm } from './admin-routes.js';

/** Java's Long.MAX_VALUE, as Keycloak writes it for a permanent lockout. */
const LONG_MAX_VALUE_TEXT = '9223372036854775807';

const USER_LOGIN_FAILURE = 'USER_LOGIN_FAILURE';

export function registerAttackDetectionRoutes(app: FastifyInstance, ctx: FacadeContext): void {
  app.get('/:realm/attack-detection/brute-force/users/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'view-users');
    const userId = idOf(request);
    const status = await bruteForceStatus(ctx, realm, userId);
    return reply.header('content-type', 'application/json').send(status);
  });

  app.delete('/:realm/attack-detection/brute-force/users/:id', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    const userId = idOf(request);
    if (await ctx.engine.loginFailures.remove(realm.id, userId)) {
      auditAdmin(ctx, request, realm, 'DELETE', USER_LOGIN_FAILURE, `attack-detection/brute-force/users/${userId}`);
    }
    return reply.code(204).send();
  });

  app.delete('/:realm/attack-detection/brute-force/users', async (request, reply) => {
    const realm = targetRealm(ctx, request, 'manage-users');
    await ctx.engine.loginFailures.removeRealm(realm.id);
    auditAdmin(ctx, request, realm, 'DELETE', USER_LOGIN_FAILURE, 'attack-detection/brute-force/users');
    return reply.code(204).send();
  });
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

/** AttackDetectionResource.bruteForceUserStatus, as JSON text. */
async function bruteForceStatus(ctx: FacadeContext, realm: RealmRecord, userId: string): Promise<string> {
  const zero = { disabled: false, numFailures: 0, numTemporaryLockouts: 0, lastFailure: 0, lastIPFailure: 'n/a', failedLoginNotBefore: '0' };
  if (!realm.bruteForce.bruteForceProtected) return statusJson(zero);
  const record = await ctx.engine.loginFailures.get(realm.id, userId);
  if (record === null) return statusJson(zero);
  const user = ctx.store.userById(userId);
  const now = ctx.clock.nowSeconds();
  const temporarily = isTemporarilyLocked(record, now);
  const permanently = user !== undefined && user.realmId === realm.id && isPermanentlyLocked(user, record, realm.bruteForce);
  return statusJson({
    ...counters(record),
    disabled: temporarily || permanently,
    failedLoginNotBefore: temporarily ? String(record.failedLoginNotBefore) : permanently ? LONG_MAX_VALUE_TEXT : '0',
  });
}

function counters(r: LoginFailureRecord): { numFailures: number; numTemporaryLockouts: number; lastFailure: number; lastIPFailure: string } {
  return { numFailures: r.numFailures, numTemporaryLockouts: r.numTemporaryLockouts, lastFailure: r.lastFailure, lastIPFailure: r.lastIPFailure ?? 'n/a' };
}

/** The map with `failedLoginNotBefore` written as a raw number (it may exceed 2^53). */
function statusJson(s: { disabled: boolean; numFailures: number; numTemporaryLockouts: number; lastFailure: number; lastIPFailure: string; failedLoginNotBefore: string }): string {
  const { failedLoginNotBefore, ...rest } = s;
  return `${JSON.stringify(rest).slice(0, -1)},"failedLoginNotBefore":${failedLoginNotBefore}}`;
}
