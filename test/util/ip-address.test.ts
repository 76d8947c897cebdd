// Goal: IPv4 addresses pack into a uint32 and back without loss, anything
// that would not format back to itself stays text, and CIDR filters match
// exactly the addresses inside the blocks (IPv4 and IPv6), refusing invalid
// blocks by name. Method: tables of cases and a seeded round-trip property.

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { cidrMatcher, formatIpv4, parseCidr, parseIpv4 } from '../../src/util/ip-address.js';

const seed = Number(process.env.FC_SEED ?? 20_251_128);

test('parseIpv4 packs canonical dotted quads', (t) => {
  t.is(parseIpv4('0.0.0.0'), 0);
  t.is(parseIpv4('10.0.0.1'), 0x0a000001);
  t.is(parseIpv4('192.168.1.255'), 0xc0a801ff);
  t.is(parseIpv4('255.255.255.255'), 0xffffffff);
});

test('parseIpv4 answers -1 for anything that is not a canonical dotted quad', (t) => {
  for (const text of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.256', '01.2.3.4', '1.2.3.04', '1..2.3', '.1.2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '::1', '2001:db8::1', '1.2.3.4/8', '1111.2.3.4', '000.0.0.0']) {
    t.is(parseIpv4(text), -1, JSON.stringify(text));
  }
});

test('formatIpv4 inverts parseIpv4 for every uint32 (property)', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      assert.equal(parseIpv4(formatIpv4(v)), v);
    }),
    { seed, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      assert.equal(formatIpv4(parseIpv4(text)), text);
    }),
    { seed, numRuns: 1000 },
  );
  t.is(formatIpv4(0x7f000001), '127.0.0.1');
});

test('parseCidr accepts blocks and single addresses of both families', (t) => {
  t.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  t.deepEqual(parseCidr('192.168.1.7'), { address: '192.168.1.7', prefix: 32, family: 'ipv4' });
  t.deepEqual(parseCidr('2001:db8::/32'), { address: '2001:db8::', prefix: 32, family: 'ipv6' });
  t.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
  t.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', prefix: 0, family: 'ipv4' });
});

test('parseCidr refuses malformed blocks', (t) => {
  for (const text of ['', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/8/8', '10.0.0/8', 'example.com/8', '10.0.0.0/1e1', 'abc']) {
    t.is(parseCidr(text), null, JSON.stringify(text));
  }
  t.is(parseCidr(undefined as unknown as string), null);
  t.is(parseCidr(42 as unknown as string), null);
});

test('cidrMatcher matches exactly the addresses inside the blocks', (t) => {
  const inside = cidrMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
  for (const ip of ['10.0.0.0', '10.255.255.255', '10.1.2.3', '192.168.1.7', '2001:db8::1', '2001:db8:ffff::9']) t.true(inside(ip), ip);
  for (const ip of ['11.0.0.0', '9.255.255.255', '192.168.1.8', '2001:db9::1', '::1', 'not-an-ip', '']) t.false(inside(ip), ip);
  t.false(cidrMatcher([])('10.0.0.1'), 'an empty list matches nothing');
  t.true(cidrMatcher(['0.0.0.0/0'])('203.0.113.9'));
});

test('cidrMatcher throws a RangeError naming the first invalid block', (t) => {
  const err = t.throws(() => cidrMatcher(['10.0.0.0/8', '300.0.0.0/8']), { instanceOf: RangeError });
  t.regex(err.message, /300\.0\.0\.0\/8/);
});

test('property: cidrMatcher.ipv4 on a packed address answers what the BlockList answers for its text', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const quad = fc.nat({ max: 0xffffffff });
  const v4Block = fc.tuple(quad, fc.integer({ min: 0, max: 32 })).map(([value, prefix]) => `${formatIpv4(value)}/${prefix}`);
  const v6Block = fc.constantFrom('::ffff:0:0/96', '::ffff:10.0.0.0/104', '2001:db8::/32', '::/0');
  const blocks = fc.array(fc.oneof({ weight: 4, arbitrary: v4Block }, { weight: 1, arbitrary: v6Block }), { minLength: 1, maxLength: 4 });
  fc.assert(
    fc.property(blocks, fc.array(quad, { minLength: 1, maxLength: 20 }), (cidrs, values) => {
      const matcher = cidrMatcher(cidrs);
      // Addresses inside the first block too, not only random ones (which rarely fall in a long prefix).
      const first = parseIpv4(cidrs[0]!.split('/')[0]!);
      const probes = first < 0 ? values : [...values, first, (first ^ 1) >>> 0, (first ^ 0x100) >>> 0];
      for (const value of probes) assert.equal(matcher.ipv4(value), matcher(formatIpv4(value)), `${formatIpv4(value)} in ${cidrs.join(',')}`);
    }),
    { seed, numRuns: 1000 },
  );
  t.pass();
});
