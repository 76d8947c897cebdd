// Goal: the pure brute-force rules follow DefaultBruteForceProtector.failure
// step by step: MULTIPLE and LINEAR waits, the maxFailureWaitSeconds cap, the
// maxDeltaTimeSeconds reset, the quick-login rule, temporary lockouts counted
// until permanent lockout, and how long a record is kept. Method: sequences of
// failures at chosen millisecond times against hand-computed expectations.

import test from 'ava';
import {
  BRUTE_FORCE_DEFAULTS,
  bruteForceSettings,
  lockedError,
  lockoutNotBeforeDetail,
  recordExpiresAtMs,
  recordFailure,
  type BruteForceSettings,
  type LoginFailureRecord,
} from '../../src/session/brute-force.js';

const T0 = 1_800_000_000_000; // ms

function run(s: BruteForceSettings, gapsMs: number[]): { record: LoginFailureRecord; temporary: boolean[]; permanent: boolean[] } {
  let record: LoginFailureRecord | null = null;
  let now = T0;
  const temporary: boolean[] = [];
  const permanent: boolean[] = [];
  for (const gap of gapsMs) {
    now += gap;
    const out = recordFailure(record, s, now, '10.0.0.1');
    record = out.record;
    temporary.push(out.temporaryLockout);
    permanent.push(out.permanentLockout);
  }
  return { record: record!, temporary, permanent };
}

test('MULTIPLE: every failure from failureFactor on locks, for waitIncrement times ⌊n / factor⌋, capped', (t) => {
  const s = bruteForceSettings({ bruteForceProtected: true, failureFactor: 2, waitIncrementSeconds: 400, maxFailureWaitSeconds: 900 });
  const { record, temporary } = run(s, [0, 5000, 5000, 5000, 5000, 5000]);
  t.deepEqual(temporary, [false, true, true, true, true, true]);
  t.is(record.numFailures, 6);
  t.is(record.numTemporaryLockouts, 5);
  // The 6th failure: 400 * 3 = 1200 s, capped at 900.
  t.is(record.failedLoginNotBefore, Math.floor((T0 + 25_000) / 1000) + 900);
});

test('LINEAR: waitIncrement * (1 + n - failureFactor) from the factor on', (t) => {
  const s = bruteForceSettings({ bruteForceProtected: true, bruteForceStrategy: 'LINEAR', failureFactor: 3, waitIncrementSeconds: 10 });
  const { record, temporary } = run(s, [0, 2000, 2000, 2000]);
  t.deepEqual(temporary, [false, false, true, true]);
  t.is(record.failedLoginNotBefore, Math.floor((T0 + 6000) / 1000) + 20);
});

test('a failure more than maxDeltaTimeSeconds after the last one starts over', (t) => {
  const s = bruteForceSettings({ bruteForceProtected: true, failureFactor: 3, maxDeltaTimeSeconds: 60 });
  const { record, temporary } = run(s, [0, 2000, 61_000, 2000]);
  t.deepEqual(temporary, [false, false, false, false]);
  t.is(record.numFailures, 2);
});

test('quick failures lock for minimumQuickLoginWaitSeconds without counting a temporary lockout', (t) => {
  const s = bruteForceSettings({ bruteForceProtected: true, quickLoginCheckMilliSeconds: 1000, minimumQuickLoginWaitSeconds: 60 });
  const { record, temporary } = run(s, [0, 999]);
  t.deepEqual(temporary, [false, true]);
  t.is(record.numTemporaryLockouts, 0);
  t.is(record.failedLoginNotBefore, Math.floor((T0 + 999) / 1000) + 60);
  t.is(lockedError({ enabled: true, attributes: {} }, record, s, record.failedLoginNotBefore - 1), 'user_temporarily_disabled');
  t.is(lockedError({ enabled: true, attributes: {} }, record, s, record.failedLoginNotBefore), null);
  t.is(lockedError({ enabled: true, attributes: {} }, record, { ...s, bruteForceProtected: false }, 0), null);
});

test('permanent lockout: after maxTemporaryLockouts lockouts, or at failureFactor when none are allowed', (t) => {
  const some = bruteForceSettings({ bruteForceProtected: true, permanentLockout: true, maxTemporaryLockouts: 2, failureFactor: 1, waitIncrementSeconds: 1 });
  t.deepEqual(run(some, [0, 5000, 5000]).permanent, [false, false, true]);
  const none = bruteForceSettings({ bruteForceProtected: true, permanentLockout: true, failureFactor: 3 });
  const pure = run(none, [0, 5000, 5000]);
  t.deepEqual(pure.permanent, [false, false, true]);
  t.deepEqual(pure.temporary, [false, false, false]);
  t.is(recordExpiresAtMs(pure.record, none), null, 'kept: nothing resets it');
  t.is(lockedError({ enabled: false, attributes: { disabledReason: ['permanentLockout'] } }, null, none, 0), 'user_disabled');
  // Pure permanent never resets on maxDelta.
  t.is(run(none, [0, 100_000_000]).record.numFailures, 2);
});

test('a record is kept maxDeltaTimeSeconds after its last failure; defaults are Keycloak\'s', (t) => {
  const s = bruteForceSettings({});
  t.deepEqual(s, { ...BRUTE_FORCE_DEFAULTS });
  const { record } = run(s, [0]);
  t.is(recordExpiresAtMs(record, s), T0 + 43_200_000);
  t.is(lockoutNotBeforeDetail(1_800_000_000), '2027-01-15T08:00');
  t.is(lockoutNotBeforeDetail(1_800_000_001), '2027-01-15T08:00:01');
});
