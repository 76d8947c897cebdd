// Time is injected (docs/code-style.md rule 10). SystemClock is the only code in
// sessiond that reads the wall clock; everything else takes a Clock, so tests
// drive expiry in virtual time with one ManualClock and no sleeps.
//
// Sessions and timer wheels work in whole epoch seconds, as Keycloak does;
// nowMs exists for the few callers that need finer time (token `iat` checks
// against skew, latency metrics). nowSeconds is always floor(nowMs / 1000), so
// the two never disagree about which second it is.

export interface Clock {
  nowSeconds(): number;
  nowMs(): number;
}

export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }

  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }
}

// A clock that moves only when told to. It keeps whole seconds because that is
// the unit of every deadline it drives; a fractional second would produce
// fractional deadlines, which the timer wheel rejects.
export class ManualClock implements Clock {
  #seconds: number;

  constructor(startSeconds: number) {
    assertWholeSeconds('startSeconds', startSeconds);
    this.#seconds = startSeconds;
  }

  nowSeconds(): number {
    return this.#seconds;
  }

  nowMs(): number {
    return this.#seconds * 1000;
  }

  // May move backwards: tests use it to simulate a wall clock stepped back by NTP.
  set(seconds: number): void {
    assertWholeSeconds('seconds', seconds);
    this.#seconds = seconds;
  }

  // Only forwards; moving backwards is rare enough to deserve the explicit set().
  advance(seconds: number): void {
    assertWholeSeconds('seconds', seconds);
    if (seconds < 0) {
      throw new RangeError(`ManualClock.advance: seconds must be >= 0 (use set() to go back), got ${seconds}`);
    }
    this.#seconds += seconds;
  }
}

function assertWholeSeconds(name: string, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`ManualClock: ${name} must be a safe integer number of seconds, got ${value}`);
  }
}
