// One username-and-password attempt, as the password grant and the login form
// make it, with brute-force detection (docs/keycloak-semantics.md#brute-force-detection):
//
//   1. find the user by username, or by email when the text has an '@';
//   2. an unknown user (or one without a password, or an empty password)
//      still costs one hash, so timing does not tell which usernames exist;
//   3. realm protected: the user's login-failure record is read from the
//      user's partition; a locked user is refused here, before any hash
//      (Keycloak: AuthenticatorUtils.getDisabledByBruteForceEventError, then
//      the caller answers exactly as for a wrong password);
//   4. the password is verified (constant time, on the hash pool), if the
//      client address has a hash slot free (login-rate-limit.ts admitHash;
//      none ⇒ 'busy', refused with 429 and no hash);
//   5. wrong: the failure is counted in the user's partition, which answers
//      whether it locked the user (USER_DISABLED_BY_TEMPORARY_LOCKOUT) or
//      locked them for good: then the user is disabled with
//      attributes.disabledReason = permanentLockout
//      (USER_DISABLED_BY_PERMANENT_LOCKOUT);
//   6. right: the caller finishes the login, then calls loginSucceeded,
//      which removes the record (Keycloak: AuthenticationManager.logSuccess).
//
// Unknown users are not counted (Keycloak counts failures per existing user).

import { randomUUID } from 'node:crypto';
import type { PasswordCredential, RealmRecord, UserRecord } from '../../realm/model.js';
import {
  DISABLED_BY_PERMANENT_LOCKOUT,
  DISABLED_REASON_ATTRIBUTE,
  lockedError,
  lockoutNotBeforeDetail,
  type LockedError,
  type LoginFailureRecord,
} from '../../session/brute-force.js';
import type { FacadeContext } from '../context.js';
import { admitHash } from './login-rate-limit.js';

export type PasswordLogin =
  | { outcome: 'success'; user: UserRecord; failures: LoginFailureRecord | null }
  | { outcome: 'locked'; user: UserRecord; error: LockedError }
  /** `user` undefined: no such user. */
  | { outcome: 'invalid'; user: UserRecord | undefined }
  /** The address already has its share of hashes in flight (login-rate-limit.ts): refused without a hash. */
  | { outcome: 'busy' };

export interface LoginAttempt {
  username: string;
  password: string;
  ip: string;
  /** The form does not count an empty password as a failure (Keycloak's badPasswordHandler forceChallenge); the grant does. */
  emptyPasswordCounts: boolean;
}

/** A user that does not exist still costs a hash; this is what it is checked against. */
let dummyCredential: Promise<PasswordCredential> | null = null;

/** The user a login names: by username, else by email when it has an '@'. */
export function userOfLogin(ctx: FacadeContext, realm: RealmRecord, username: string): UserRecord | undefined {
  if (username === '') return undefined;
  return ctx.store.userByUsername(realm.id, username) ?? (username.includes('@') ? ctx.store.userByEmail(realm.id, username) : undefined);
}

/** Steps 1-5 above. */
export async function authenticatePassword(ctx: FacadeContext, realm: RealmRecord, attempt: LoginAttempt): Promise<PasswordLogin> {
  const user = userOfLogin(ctx, realm, attempt.username);
  const credential = user?.credentials[0];
  if (user === undefined || credential === undefined || attempt.password === '') {
    dummyCredential ??= ctx.hasher.hash(randomUUID(), { algorithm: 'pbkdf2-sha512', iterations: 210_000 });
    const counts = user !== undefined && (attempt.password !== '' || attempt.emptyPasswordCounts);
    if (counts && realm.bruteForce.bruteForceProtected) {
      const locked = await lockOf(ctx, realm, user);
      if (locked.error !== null) return { outcome: 'locked', user, error: locked.error };
    }
    const release = admitHash(ctx, attempt.ip);
    if (release === null) return { outcome: 'busy' };
    try {
      await ctx.hasher.verify(attempt.password, await dummyCredential);
    } finally {
      release();
    }
    if (counts) await countFailure(ctx, realm, user, attempt.ip);
    return { outcome: 'invalid', user };
  }
  let failures: LoginFailureRecord | null = null;
  if (realm.bruteForce.bruteForceProtected) {
    const locked = await lockOf(ctx, realm, user);
    if (locked.error !== null) return { outcome: 'locked', user, error: locked.error };
    failures = locked.record;
  }
  const release = admitHash(ctx, attempt.ip);
  if (release === null) return { outcome: 'busy' };
  let verified: boolean;
  try {
    verified = await ctx.hasher.verify(attempt.password, credential);
  } finally {
    release();
  }
  if (!verified) {
    await countFailure(ctx, realm, user, attempt.ip);
    return { outcome: 'invalid', user };
  }
  return { outcome: 'success', user, failures };
}

/** Step 6: a completed login forgets the user's failures. */
export async function loginSucceeded(ctx: FacadeContext, realm: RealmRecord, login: { user: UserRecord; failures: LoginFailureRecord | null }): Promise<void> {
  if (realm.bruteForce.bruteForceProtected && login.failures !== null) await ctx.engine.loginFailures.remove(realm.id, login.user.id);
}

async function lockOf(ctx: FacadeContext, realm: RealmRecord, user: UserRecord): Promise<{ record: LoginFailureRecord | null; error: LockedError | null }> {
  const record = await ctx.engine.loginFailures.get(realm.id, user.id);
  return { record, error: lockedError(user, record, realm.bruteForce, ctx.clock.nowSeconds()) };
}

async function countFailure(ctx: FacadeContext, realm: RealmRecord, user: UserRecord, ip: string): Promise<void> {
  if (!realm.bruteForce.bruteForceProtected) return;
  const outcome = await ctx.engine.loginFailures.recordFailure(realm.id, user.id, ip, realm.bruteForce);
  const details = { reason: 'brute_force_attack detected', num_failures: String(outcome.record.numFailures) };
  if (outcome.temporaryLockout) {
    ctx.events.emit({
      type: 'USER_DISABLED_BY_TEMPORARY_LOCKOUT',
      realmId: realm.id,
      clientId: null,
      userId: user.id,
      sessionId: null,
      ipAddress: outcome.record.lastIPFailure,
      error: null,
      details: { ...details, not_before: lockoutNotBeforeDetail(outcome.record.failedLoginNotBefore) },
    });
  }
  if (outcome.permanentLockout) {
    const current = ctx.store.userById(user.id);
    if (current !== undefined && current.enabled) {
      await ctx.store.putUser({ ...current, enabled: false, attributes: { ...current.attributes, [DISABLED_REASON_ATTRIBUTE]: [DISABLED_BY_PERMANENT_LOCKOUT] } });
      ctx.log.warn({ realm: realm.name, user: user.id }, 'user disabled by permanent lockout (brute-force detection)');
    }
    ctx.events.emit({ type: 'USER_DISABLED_BY_PERMANENT_LOCKOUT', realmId: realm.id, clientId: null, userId: user.id, sessionId: null, ipAddress: outcome.record.lastIPFailure, error: null, details });
  }
}
