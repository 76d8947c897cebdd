// Goal: the two clocks agree on units (nowSeconds is the floor of nowMs / 1000)
// and ManualClock moves only when told, rejecting fractional and backwards
// advances. Method: drive a ManualClock directly; sample SystemClock around Date.now.

import test from 'ava';
import { ManualClock, SystemClock } from '../../src/time/clock.js';

test('SystemClock reads the wall clock in ms and whole seconds', (t) => {
  const clock = new SystemClock();
  const beforeMs = Date.now();
  const ms = clock.nowMs();
  const seconds = clock.nowSeconds();
  const afterMs = Date.now();
  t.true(ms >= beforeMs && ms <= afterMs);
  t.true(Number.isInteger(seconds));
  t.true(seconds >= Math.floor(beforeMs / 1000) && seconds <= Math.floor(afterMs / 1000));
});

test('ManualClock starts where it is told and reports ms as seconds * 1000', (t) => {
  const clock = new ManualClock(1_800_000_000);
  t.is(clock.nowSeconds(), 1_800_000_000);
  t.is(clock.nowMs(), 1_800_000_000_000);
});

test('ManualClock.advance moves forwards only; set may move anywhere', (t) => {
  const clock = new ManualClock(100);
  clock.advance(0);
  t.is(clock.nowSeconds(), 100);
  clock.advance(30);
  t.is(clock.nowSeconds(), 130);
  t.throws(() => clock.advance(-1), { instanceOf: RangeError });
  t.is(clock.nowSeconds(), 130);
  clock.set(50);
  t.is(clock.nowSeconds(), 50);
  t.is(clock.nowMs(), 50_000);
});

test('ManualClock rejects fractional and non-finite seconds', (t) => {
  t.throws(() => new ManualClock(1.5), { instanceOf: RangeError });
  t.throws(() => new ManualClock(Number.NaN), { instanceOf: RangeError });
  const clock = new ManualClock(0);
  t.throws(() => clock.advance(0.25), { instanceOf: RangeError });
  t.throws(() => clock.set(Infinity), { instanceOf: RangeError });
  t.is(clock.nowSeconds(), 0);
});
