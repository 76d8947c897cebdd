// Goal: the journal's segment files give back exactly the frames written, in
// order and with their positions, across segments and reopenings; a frame cut
// short or corrupted (a kill -9 mid-write, a power loss) ends the log there,
// and is cut off so that later frames follow valid ones; a failed write
// leaves the segment as it was.
// Method: real files in a temp dir, small segments so that a test spans
// several; damage is done to the files with node:fs, as a crash would leave
// them.

import test from 'ava';
import { appendFileSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogEntry } from '../../src/store/journal-log.js';
import { listSegments, LogSegments, readSegment } from '../../src/store/journal-segments.js';
import { MUTATION } from '../../src/protocol/mutations.js';
import { tempDir } from '../helpers/temp-dir.js';

const SEGMENT_BYTES = 2048;

/** A turn of `n` records, numbered from `from` (their seq in partition 7). */
function turn(from: number, n: number): LogEntry[] {
  return Array.from({ length: n }, (_, i) => ({ p: 7, s: from + i, m: { k: MUTATION.sessionRemoved, id: `session-${from + i}`, reason: 'logout' } }));
}

/** Every turn the shard's segments hold, as [first position, seqs]. */
function turns(segments: LogSegments): [number, number[]][] {
  const out: [number, number[]][] = [];
  segments.read((first, entries) => out.push([first, entries.map((e) => e.s)]));
  return out;
}

/** Writes turns of 1..5 records until `count` records; returns what was written, as turns() gives it. */
function writeTurns(segments: LogSegments, count: number): [number, number[]][] {
  const written: [number, number[]][] = [];
  for (let s = 1; s <= count; ) {
    const n = Math.min(1 + (s % 5), count - s + 1);
    const first = segments.next;
    segments.append(first, turn(s, n));
    written.push([first, turn(s, n).map((e) => e.s)]);
    s += n;
  }
  return written;
}

test('frames come back in order with their positions, across segments and after reopening', async (t) => {
  const dir = tempDir(t);
  const first = new LogSegments(dir, 2, 1, SEGMENT_BYTES);
  const written = writeTurns(first, 300);
  await first.close();
  const files = listSegments(dir);
  t.true(files.length >= 3, `${files.length} segments`);
  t.true(files.every((s) => s.shardCount === 2 && s.shard === 1));
  const again = new LogSegments(dir, 2, 1, SEGMENT_BYTES);
  t.is(again.next, 300);
  t.deepEqual(turns(again), written);
  again.append(300, turn(301, 2));
  t.deepEqual(turns(again).at(-1), [300, [301, 302]]);
  t.deepEqual(new LogSegments(dir, 2, 0, SEGMENT_BYTES).next, 0, 'another shard\'s segments are its own');
  await again.close();
});

test('a frame cut short ends the log: it is cut off, and the next frames follow the valid ones', async (t) => {
  const dir = tempDir(t);
  const first = new LogSegments(dir, 1, 0, 1 << 20);
  const written = writeTurns(first, 40);
  await first.close();
  const [segment] = listSegments(dir);
  const whole = statSync(segment!.path).size;
  // A kill -9 in the middle of a write: a header and half a payload.
  const torn = readFileSync(segment!.path).subarray(0, 30);
  appendFileSync(segment!.path, torn);
  const reopened = new LogSegments(dir, 1, 0, 1 << 20);
  t.is(statSync(segment!.path).size, whole, 'the torn frame is cut off');
  t.is(reopened.next, 40);
  reopened.append(40, turn(41, 3));
  t.deepEqual(turns(reopened), [...written, [40, [41, 42, 43]]]);
  await reopened.close();
});

test('a corrupted frame ends the log there: what follows it, in its segment and after, is dropped', async (t) => {
  const dir = tempDir(t);
  const first = new LogSegments(dir, 1, 0, SEGMENT_BYTES);
  const written = writeTurns(first, 300);
  await first.close();
  const files = listSegments(dir);
  const damaged = files[1]!;
  const bytes = readFileSync(damaged.path);
  const kept: [number, number[]][] = [];
  readSegment(damaged, (at, entries) => kept.push([at, entries.map((e) => e.s)]));
  // A power loss left garbage in the second frame of the second segment.
  const firstFrame = 12 + bytes.readUInt32LE(0);
  bytes[firstFrame + 20] ^= 0xff;
  writeFileSync(damaged.path, bytes);
  const reopened = new LogSegments(dir, 1, 0, SEGMENT_BYTES);
  const survived = written.filter(([at]) => at <= kept[0]![0]);
  t.deepEqual(turns(reopened), survived);
  t.is(reopened.next, kept[1]![0]);
  t.is(listSegments(dir).length, 2, 'the segments after the damaged one are deleted');
  await reopened.close();
});

test('a write that fails leaves the log as it was: the same records written again come back once', async (t) => {
  const dir = tempDir(t);
  const segments = new LogSegments(dir, 1, 0, 64);
  segments.append(0, turn(1, 2));
  // The next segment's file cannot be created: its name is taken by a directory.
  const blocked = join(dir, `1-0-${String(2).padStart(16, '0')}.log`);
  mkdirSync(blocked);
  t.throws(() => segments.append(2, turn(3, 2)), { code: 'EISDIR' });
  t.is(segments.next, 2);
  rmdirSync(blocked);
  segments.append(2, [...turn(3, 2), ...turn(5, 1)]);
  t.deepEqual(turns(segments), [
    [0, [1, 2]],
    [2, [3, 4, 5]],
  ]);
  await segments.close();
});

test('a turn at a position other than the log\'s next one is refused (the log never skips or repeats records)', async (t) => {
  const dir = tempDir(t);
  const segments = new LogSegments(dir, 1, 0);
  segments.append(0, turn(1, 1));
  t.throws(() => segments.append(0, turn(2, 1)), { message: /position 0, but the log is at 1/ });
  await segments.close();
});
