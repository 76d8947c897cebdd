// The bench's reading of a Prometheus histogram (cluster-touch-lag's
// replication acknowledgement p99).

import test from 'ava';
import { bucketQuantile } from '../../bench/lib/stats.js';

const buckets = (counts: Array<[number, number]>): Array<{ le: number; count: number }> => counts.map(([le, count]) => ({ le, count }));

test('bucketQuantile names the upper bound of the bucket that holds the quantile', (t) => {
  // 100 observations: 90 at or under 1 ms, 9 more under 5 ms, 1 under 100 ms.
  const b = buckets([[0.001, 90], [0.005, 99], [0.1, 100], [Infinity, 100]]);
  t.is(bucketQuantile(b, 0.5), 0.001);
  t.is(bucketQuantile(b, 0.9), 0.001);
  t.is(bucketQuantile(b, 0.99), 0.005);
  t.is(bucketQuantile(b, 1), 0.1);
});

test('bucketQuantile reads buckets in any order, and has nothing to say without observations', (t) => {
  t.is(bucketQuantile(buckets([[Infinity, 10], [0.01, 10], [0.001, 2]]), 0.99), 0.01);
  t.is(bucketQuantile(buckets([[0.001, 0], [Infinity, 0]]), 0.99), null);
  t.is(bucketQuantile([], 0.99), null);
});

test('bucketQuantile says +Inf when the quantile lies beyond the last finite bucket', (t) => {
  t.is(bucketQuantile(buckets([[2.5, 98], [Infinity, 100]]), 0.99), Infinity);
});
