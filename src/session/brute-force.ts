// Brute-force detection with Keycloak 26.x's rules (docs/keycloak-semantics.md#brute-force-detection):
// the realm attributes, one login-failure record per user, and the pure
// functions that move it. The record lives in the user's partition
// (src/actor/login-failures.ts); this module never stores anything.
//
// Sources: services/.../managers/DefaultBruteForceProtector.java (failure,
// isTemporarilyDisabled, isPermanentlyLockedOut, cleanUpPermanentLockout),
// services/.../authenticators/util/AuthenticatorUtils.java
// (getDisabledByBruteForceEventError), model/infinispan/.../LoginFailureEntity
// (clearFailures; failedLoginNotBefore and lastFailure only move forward),
// SessionTimeouts.getLoginFailuresLifespanMs (how long a record is kept).
//
// One failure, in Keycloak's order (times: failure ms, notBefore s):
//
//   1. delta = now - lastFailure (0 for a first failure)
//   2. unless "pure permanent" (permanentLockout and maxTemporaryLockouts = 0):
//      delta > maxDeltaTimeSeconds·1000  ⇒ the record restarts from zero
//   3. lastIPFailure = ip, lastFailure = now, numFailures += 1
//   4. wait = 0 for pure permanent; else MULTIPLE: waitIncrement · ⌊n / failureFactor⌋
//                                          LINEAR:   waitIncrement · (1 + n − failureFactor)
//   5. wait ≤ 0 and a previous failure less than quickLoginCheckMilliSeconds
//      ago ⇒ wait = minimumQuickLoginWaitSeconds (a "quick" failure)
//   6. wait > 0: capped at maxFailureWaitSeconds (not for pure permanent);
//      a non-quick wait counts a temporary lockout; notBefore = ⌊now/1000⌋ + wait
//      unless permanent lockout is on and the lockouts passed maxTemporaryLockouts
//   7. permanentLockout and (lockouts > maxTemporaryLockouts, or pure permanent
//      and numFailures ≥ failureFactor) ⇒ the user is disabled for good
//
// Worked example, defaults (factor 30, increment 60 s, quick 1,000 ms / 60 s):
// failures 1..29 a second or more apart lock nothing; from the 30th on, each
// failure locks for 60 s · ⌊n / 30⌋ (60 s through the 59th, 120 s from the
// 60th, ...), at most maxFailureWaitSeconds (900 s). Two failures less than a
// second apart lock for 60 s at once (the quick-login rule).
//
// A locked user is refused before any password hash, with the same answer as
// a wrong password; a refused attempt is not a failure (the record does not
// move), and a successful login removes the record.

export const BRUTE_FORCE_STRATEGY = Object.freeze({ multiple: 'MULTIPLE', linear: 'LINEAR' } as const);
export type BruteForceStrategy = (typeof BRUTE_FORCE_STRATEGY)[keyof typeof BRUTE_FORCE_STRATEGY];

/** RealmRepresentation's brute-force attributes, same names and units. */
export interface BruteForceSettings {
  bruteForceProtected: boolean;
  permanentLockout: boolean;
  maxTemporaryLockouts: number;
  bruteForceStrategy: BruteForceStrategy;
  maxFailureWaitSeconds: number;
  minimumQuickLoginWaitSeconds: number;
  waitIncrementSeconds: number;
  quickLoginCheckMilliSeconds: number;
  maxDeltaTimeSeconds: number;
  failureFactor: number;
}

/** Keycloak's defaults for a new realm (RealmManager.setupRealmDefaults; detection off). */
export const BRUTE_FORCE_DEFAULTS: Readonly<BruteForceSettings> = Object.freeze({
  bruteForceProtected: false,
  permanentLockout: false,
  maxTemporaryLockouts: 0,
  bruteForceStrategy: BRUTE_FORCE_STRATEGY.multiple,
  maxFailureWaitSeconds: 900,
  minimumQuickLoginWaitSeconds: 60,
  waitIncrementSeconds: 60,
  quickLoginCheckMilliSeconds: 1000,
  maxDeltaTimeSeconds: 43_200,
  failureFactor: 30,
});

/** The attribute names, in a stable order (import, export, admin API). */
export const BRUTE_FORCE_KEYS: readonly (keyof BruteForceSettings)[] = Object.freeze(Object.keys(BRUTE_FORCE_DEFAULTS) as (keyof BruteForceSettings)[]);

/** Keycloak's UserModel.DISABLED_REASON attribute and the value a permanent lockout writes. */
export const DISABLED_REASON_ATTRIBUTE = 'disabledReason';
export const DISABLED_BY_PERMANENT_LOCKOUT = 'permanentLockout';

/** The LOGIN_ERROR event's `error` for a refused locked user (Keycloak's Errors constants). */
export const LOCKED_ERROR = Object.freeze({ permanent: 'user_disabled', temporary: 'user_temporarily_disabled' } as const);
export type LockedError = (typeof LOCKED_ERROR)[keyof typeof LOCKED_ERROR];

/** Keycloak's UserLoginFailureModel for one user. */
export interface LoginFailureRecord {
  numFailures: number;
  numTemporaryLockouts: number;
  /** Epoch ms of the last failure; 0 = none. */
  lastFailure: number;
  lastIPFailure: string | null;
  /** Epoch s before which the user is temporarily locked; 0 = never. */
  failedLoginNotBefore: number;
}

export interface FailureOutcome {
  record: LoginFailureRecord;
  /** This failure set a lockout (Keycloak sends USER_DISABLED_BY_TEMPORARY_LOCKOUT). */
  temporaryLockout: boolean;
  /** The user must be disabled (Keycloak sends USER_DISABLED_BY_PERMANENT_LOCKOUT). */
  permanentLockout: boolean;
}

function emptyRecord(): LoginFailureRecord {
  return { numFailures: 0, numTemporaryLockouts: 0, lastFailure: 0, lastIPFailure: null, failedLoginNotBefore: 0 };
}

/** Permanent lockout with no temporary lockouts first: the record never resets and never expires. */
function purePermanent(s: BruteForceSettings): boolean {
  return s.permanentLockout && s.maxTemporaryLockouts === 0;
}

/** Steps 1-7 above: the record after one failed login at `nowMs` from `ip`. */
export function recordFailure(previous: LoginFailureRecord | null, s: BruteForceSettings, nowMs: number, ip: string): FailureOutcome {
  let r: LoginFailureRecord = previous === null ? emptyRecord() : { ...previous };
  const last = r.lastFailure;
  const delta = last > 0 ? nowMs - last : 0;
  if (!purePermanent(s) && delta > 0 && delta > s.maxDeltaTimeSeconds * 1000) r = emptyRecord();
  r.lastIPFailure = ip;
  r.lastFailure = Math.max(r.lastFailure, nowMs);
  r.numFailures += 1;

  let wait = 0;
  if (!purePermanent(s) && s.failureFactor > 0) {
    wait =
      s.bruteForceStrategy === BRUTE_FORCE_STRATEGY.multiple
        ? s.waitIncrementSeconds * Math.floor(r.numFailures / s.failureFactor)
        : s.waitIncrementSeconds * (1 + r.numFailures - s.failureFactor);
  }
  let quick = false;
  if (wait <= 0 && last > 0 && delta < s.quickLoginCheckMilliSeconds) {
    wait = s.minimumQuickLoginWaitSeconds;
    quick = true;
  }
  let temporaryLockout = false;
  if (wait > 0) {
    if (!purePermanent(s)) wait = Math.min(s.maxFailureWaitSeconds, wait);
    if (!quick) r.numTemporaryLockouts += 1;
    if (quick || !s.permanentLockout || r.numTemporaryLockouts <= s.maxTemporaryLockouts) {
      r.failedLoginNotBefore = Math.max(r.failedLoginNotBefore, Math.floor(nowMs / 1000) + wait);
      temporaryLockout = true;
    }
  }
  return { record: r, temporaryLockout, permanentLockout: s.permanentLockout && exceedsPermanentLimit(r, s) };
}

function exceedsPermanentLimit(r: LoginFailureRecord, s: BruteForceSettings): boolean {
  return r.numTemporaryLockouts > s.maxTemporaryLockouts || (s.maxTemporaryLockouts === 0 && r.numFailures >= s.failureFactor);
}

/** isTemporarilyDisabled: before the record's notBefore second. */
export function isTemporarilyLocked(r: LoginFailureRecord | null, nowSeconds: number): boolean {
  return r !== null && nowSeconds < r.failedLoginNotBefore;
}

/** The user attributes a permanent lockout leaves (disabled, with the reason). */
export function lockedByPermanentLockout(user: { enabled: boolean; attributes: Record<string, string[]> }): boolean {
  return !user.enabled && user.attributes[DISABLED_REASON_ATTRIBUTE]?.[0] === DISABLED_BY_PERMANENT_LOCKOUT;
}

/** isPermanentlyLockedOut: disabled by a lockout, or (permanent lockout on) a record past the limit. */
export function isPermanentlyLocked(user: { enabled: boolean; attributes: Record<string, string[]> }, r: LoginFailureRecord | null, s: BruteForceSettings): boolean {
  if (lockedByPermanentLockout(user)) return true;
  return s.permanentLockout && r !== null && exceedsPermanentLimit(r, s);
}

/**
 * getDisabledByBruteForceEventError: null when the user may try a password,
 * else the LOGIN_ERROR `error`. Detection off ⇒ never locked.
 */
export function lockedError(
  user: { enabled: boolean; attributes: Record<string, string[]> },
  r: LoginFailureRecord | null,
  s: BruteForceSettings,
  nowSeconds: number,
): LockedError | null {
  if (!s.bruteForceProtected) return null;
  if (isPermanentlyLocked(user, r, s)) return LOCKED_ERROR.permanent;
  if (isTemporarilyLocked(r, nowSeconds)) return LOCKED_ERROR.temporary;
  return null;
}

/**
 * When the shard may forget a record (epoch ms), as Keycloak's cache
 * lifespan: maxDeltaTimeSeconds after the last failure; never under pure
 * permanent lockout (null).
 */
export function recordExpiresAtMs(r: LoginFailureRecord, s: BruteForceSettings): number | null {
  if (purePermanent(s)) return null;
  return r.lastFailure + s.maxDeltaTimeSeconds * 1000;
}

/**
 * Complete settings from a partial representation; absent keys take the
 * defaults. Values are kept as given (as Keycloak stores them).
 */
export function bruteForceSettings(partial: Partial<Record<keyof BruteForceSettings, unknown>> = {}): BruteForceSettings {
  const out: BruteForceSettings = { ...BRUTE_FORCE_DEFAULTS };
  for (const key of BRUTE_FORCE_KEYS) {
    const v = partial[key];
    const def = BRUTE_FORCE_DEFAULTS[key];
    if (typeof def === 'boolean' && typeof v === 'boolean') (out as unknown as Record<string, unknown>)[key] = v;
    else if (typeof def === 'number' && typeof v === 'number' && Number.isFinite(v)) (out as unknown as Record<string, unknown>)[key] = Math.trunc(v);
    else if (key === 'bruteForceStrategy' && (v === BRUTE_FORCE_STRATEGY.multiple || v === BRUTE_FORCE_STRATEGY.linear)) out.bruteForceStrategy = v;
  }
  return out;
}

/**
 * Why a value cannot be stored, or null. Keycloak validates these in the
 * admin console only; the API refuses what would break the arithmetic
 * (negative times, a non-integer), and an unknown strategy.
 */
export function bruteForceValueError(key: keyof BruteForceSettings, value: unknown): string | null {
  const def = BRUTE_FORCE_DEFAULTS[key];
  if (typeof def === 'boolean') return typeof value === 'boolean' ? null : `${key} must be a boolean`;
  if (key === 'bruteForceStrategy') return value === 'MULTIPLE' || value === 'LINEAR' ? null : `${key} must be MULTIPLE or LINEAR`;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return `${key} must be a non-negative integer`;
  return null;
}

/**
 * The USER_DISABLED_BY_TEMPORARY_LOCKOUT event's `not_before` detail: Java's
 * LocalDateTime.toString() of the lockout end (here in UTC), which leaves
 * out the seconds when they are zero.
 */
export function lockoutNotBeforeDetail(notBeforeSeconds: number): string {
  const iso = new Date(notBeforeSeconds * 1000).toISOString().slice(0, 19);
  return iso.endsWith(':00') ? iso.slice(0, 16) : iso;
}
