// The journal's log on disk: per shard, append-only segment files of frames,
// one frame per turn. Owner: the shard that appends to its own segments; the
// host reads and removes them before the shards start (journal-log.ts:
// another shard count, a cleared disk).
//
//   <data-dir>/journal/<shard count>-<shard>-<first position, 16 digits>.log
//
// A frame is a 12-byte header (payload length, CRC-32 of the payload, record
// count; u32 little-endian each) and the payload: the turn's records packed as
// msgpackr records whose shapes travel in the frame (the transfer chunks'
// format), so a segment needs no shared state to be read. A position counts
// records: a segment's name holds its first record's, and the frames that
// follow count on from it.
//
// Why files and not an LMDB database (schema versions 2 and 3 kept the log
// in `journal-log`): the reply to a change waits for its record to be written,
// and a write() into the page cache costs a few microseconds where an LMDB
// commit costs a transaction, a writer thread's wake-ups and a flush to disk
// (measured in docs/performance.md, "The journal's log in files"). Both
// survive the process being killed. The flush to disk follows about
// JOURNAL_SYNC_MS later, one fdatasync for every frame written meanwhile; a power
// loss can lose the frames not yet flushed, and start-up keeps the log's
// longest valid prefix (a frame that is cut short or fails its CRC ends it,
// and what follows is cut off), so what replays is always a prefix of what
// each partition wrote.

import { closeSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Packr, Unpackr } from 'msgpackr';
import type { LogEntry } from './journal-log.js';

/** The directory of the segments, in the data directory. */
export const JOURNAL_DIR = 'journal';
/** A new segment starts once the last one holds this much (segments are deleted whole). */
export const JOURNAL_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Frames reach the disk (fdatasync) about this long after they were written to the page cache. */
export const JOURNAL_SYNC_MS = 100;

const HEADER_BYTES = 12;
/** A frame larger than this is not one this code wrote: the log ends before it. */
const FRAME_BYTES_MAX = 256 * 1024 * 1024;
const NAME = /^(\d+)-(\d+)-(\d{16})\.log$/;

const packr = new Packr({ useRecords: true });
// Decoded values never point into the bytes read (start-up reads every segment into one reused buffer).
const unpackr = new Unpackr({ useRecords: true, copyBuffers: true });

/** A segment file, as its name describes it. */
export interface Segment {
  shardCount: number;
  shard: number;
  /** The position of its first record. */
  first: number;
  path: string;
}

/** The segments in `dir` (none if it does not exist), ordered by shard count, shard and first position. */
export function listSegments(dir: string): Segment[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Segment[] = [];
  for (const name of names) {
    const match = NAME.exec(name);
    if (match !== null) out.push({ shardCount: Number(match[1]), shard: Number(match[2]), first: Number(match[3]), path: join(dir, name) });
  }
  return out.sort((a, b) => a.shardCount - b.shardCount || a.shard - b.shard || a.first - b.first);
}

function segmentPath(dir: string, shardCount: number, shard: number, first: number): string {
  return join(dir, `${shardCount}-${shard}-${String(first).padStart(16, '0')}.log`);
}

/** One frame: header, then the records packed. */
export function packFrame(entries: readonly LogEntry[]): Buffer {
  const payload = packr.pack(entries);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  frame.writeUInt32LE(entries.length, 8);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/**
 * The frames of a segment's bytes that are whole and intact, up to the first
 * that is not; `verify` false skips the CRCs (bytes checked before).
 */
export function validFrames(bytes: Buffer, verify = true): { frames: { offset: number; length: number; records: number }[]; validBytes: number } {
  const frames: { offset: number; length: number; records: number }[] = [];
  let at = 0;
  while (at + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(at);
    const records = bytes.readUInt32LE(at + 8);
    const end = at + HEADER_BYTES + length;
    if (length === 0 || length > FRAME_BYTES_MAX || end > bytes.length) break;
    if (verify && crc32(bytes.subarray(at + HEADER_BYTES, end)) !== bytes.readUInt32LE(at + 4)) break;
    frames.push({ offset: at + HEADER_BYTES, length, records });
    at = end;
  }
  return { frames, validBytes: at };
}

/** A frame's records as decoded: not yet validated (start-up checks each record before applying it). */
export function unpackFrame(bytes: Buffer, offset: number, length: number): LogEntry[] {
  const value: unknown = unpackr.unpack(bytes.subarray(offset, offset + length));
  if (!Array.isArray(value)) throw new Error('a journal frame does not hold a list of records');
  return value as LogEntry[];
}

/** Every turn of a segment's valid prefix, in order, with its first record's position. */
export function readSegment(segment: Segment, onTurn: (first: number, entries: LogEntry[]) => void): void {
  readFrames(readFileSync(segment.path), segment.first, onTurn, true);
}

function readFrames(bytes: Buffer, first: number, onTurn: (first: number, entries: LogEntry[]) => void, verify: boolean): void {
  let position = first;
  for (const frame of validFrames(bytes, verify).frames) {
    onTurn(position, unpackFrame(bytes, frame.offset, frame.length));
    position += frame.records;
  }
}

interface OpenSegment {
  first: number;
  path: string;
  /** Bytes of valid frames (the file is cut back to them at start-up). */
  bytes: number;
}

/**
 * Reads files into one buffer, grown to the largest: on this machine class a
 * page fault costs ~10 µs, and a fresh 16 MiB buffer per segment cost 40-50 ms
 * in faults, where reading into pages already mapped takes ~1 ms.
 */
class FileReader {
  #buffer = Buffer.alloc(0);

  /** The file's bytes (valid until the next read). */
  read(path: string): Buffer {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size > this.#buffer.length) this.#buffer = Buffer.allocUnsafeSlow(Math.max(size, this.#buffer.length * 2));
      for (let done = 0; done < size; ) {
        const n = readSync(fd, this.#buffer, done, size - done, done);
        if (n === 0) return this.#buffer.subarray(0, done);
        done += n;
      }
      return this.#buffer.subarray(0, size);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * One shard's segments: start-up reads them, the shard appends a frame per
 * turn to the last one, and the log's head moving on deletes the ones it
 * passed.
 */
export class LogSegments {
  readonly #dir: string;
  readonly #shardCount: number;
  readonly #shard: number;
  readonly #segmentBytes: number;
  /** The shard's segments, oldest first; the last is the one appended to. */
  #segments: OpenSegment[] = [];
  #fd: number | null = null;
  /** The next record's position. */
  #next = 0;
  #syncTimer: NodeJS.Timeout | null = null;
  #syncing: Promise<void> | null = null;
  /** Start-up's reads (released once it is over). */
  #reader: FileReader | null = new FileReader();

  /**
   * Opens the shard's segments: each is checked frame by frame, and a torn or
   * corrupt tail is cut off with every segment after it (a frame that was cut
   * short was never answered; one after a hole left by a power loss follows a
   * record the replay would miss).
   */
  constructor(dir: string, shardCount: number, shard: number, segmentBytes = JOURNAL_SEGMENT_BYTES) {
    this.#dir = dir;
    this.#shardCount = shardCount;
    this.#shard = shard;
    this.#segmentBytes = segmentBytes;
    mkdirSync(dir, { recursive: true });
    const own = listSegments(dir).filter((s) => s.shardCount === shardCount && s.shard === shard);
    for (const [i, segment] of own.entries()) {
      if (this.#segments.length > 0 && segment.first !== this.#next) {
        for (const later of own.slice(i)) unlinkSync(later.path);
        break;
      }
      const bytes = this.#reader!.read(segment.path);
      const { frames, validBytes } = validFrames(bytes);
      this.#segments.push({ first: segment.first, path: segment.path, bytes: validBytes });
      this.#next = segment.first + frames.reduce((n, f) => n + f.records, 0);
      if (validBytes < bytes.length) {
        this.#cut(segment.path, validBytes);
        for (const later of own.slice(i + 1)) unlinkSync(later.path);
        break;
      }
    }
  }

  /** The position the next record takes. */
  get next(): number {
    return this.#next;
  }

  /** The first position a segment still holds (the next one if none does). */
  get first(): number {
    return this.#segments[0]?.first ?? this.#next;
  }

  /** Start-up: every turn the segments hold, in order, with its first record's position. */
  read(onTurn: (first: number, entries: LogEntry[]) => void): void {
    const reader = this.#reader ?? new FileReader();
    for (const s of this.#segments) readFrames(reader.read(s.path).subarray(0, s.bytes), s.first, onTurn, false);
    this.#reader = null;
  }

  /**
   * Writes a turn's records, the first at `first` (the log's next position),
   * as one frame. In the OS's page cache when this returns, so it survives the
   * process being killed; on disk about JOURNAL_SYNC_MS later. Throws if the write
   * fails, with the segment as it was before (the caller writes the records
   * again with the next turn's).
   */
  append(first: number, entries: readonly LogEntry[]): void {
    if (first !== this.#next) throw new Error(`journal: a turn at position ${first}, but the log is at ${this.#next}`);
    this.#reader = null;
    const frame = packFrame(entries);
    let last = this.#segments[this.#segments.length - 1];
    if (last === undefined || this.#fd === null || last.bytes >= this.#segmentBytes) last = this.#roll();
    const fd = this.#fd!;
    try {
      for (let written = 0; written < frame.length; ) written += writeSync(fd, frame, written, frame.length - written, last.bytes + written);
    } catch (err) {
      try {
        ftruncateSync(fd, last.bytes);
      } catch {
        // The next start-up cuts the torn frame off (its CRC fails).
      }
      throw err;
    }
    last.bytes += frame.length;
    this.#next += entries.length;
    this.#syncSoon();
  }

  /**
   * Deletes the segments holding only positions before `position` (the log's
   * head has moved past them): never the one appended to, but every one once
   * closed (a graceful stop's snapshots cover the whole log).
   */
  dropBefore(position: number): void {
    const keep = this.#fd === null && position >= this.#next ? 0 : 1;
    while (this.#segments.length > keep && (this.#segments[1]?.first ?? this.#next) <= position) {
      unlinkSync(this.#segments.shift()!.path);
    }
  }

  /** Flushes what was written and closes the segment appended to (a later append opens it again). */
  async close(): Promise<void> {
    if (this.#syncTimer !== null) clearTimeout(this.#syncTimer);
    this.#syncTimer = null;
    await this.#syncing;
    if (this.#fd !== null) {
      fsyncSync(this.#fd);
      closeSync(this.#fd);
      this.#fd = null;
    }
  }

  /** Opens the last segment for appending, or starts a new one at the next position when it is full (the full one is flushed and closed). */
  #roll(): OpenSegment {
    const last = this.#segments[this.#segments.length - 1];
    if (this.#fd !== null) {
      const full = this.#fd;
      this.#fd = null;
      fsyncSync(full);
      // A flush may still be under way on it: the descriptor is closed after, never reused meanwhile.
      void (this.#syncing ?? Promise.resolve()).then(() => closeSync(full));
    }
    if (last !== undefined && last.bytes < this.#segmentBytes) {
      this.#fd = openSync(last.path, 'r+');
      return last;
    }
    const segment: OpenSegment = { first: this.#next, path: segmentPath(this.#dir, this.#shardCount, this.#shard, this.#next), bytes: 0 };
    this.#fd = openSync(segment.path, 'w');
    this.#syncDir();
    this.#segments.push(segment);
    return segment;
  }

  #cut(path: string, bytes: number): void {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A new segment's name must survive a power loss too. */
  #syncDir(): void {
    const fd = openSync(this.#dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** A flush to disk JOURNAL_SYNC_MS from now, unless one is already due. */
  #syncSoon(): void {
    if (this.#syncTimer !== null) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = null;
      this.#sync();
    }, JOURNAL_SYNC_MS);
    this.#syncTimer.unref();
  }

  /** One fdatasync of the segment appended to, right after the one under way if any (it covers every frame written before it starts). */
  #sync(): void {
    const after = this.#syncing ?? Promise.resolve();
    const syncing: Promise<void> = after.then(
      () =>
        new Promise<void>((resolve) => {
          const fd = this.#fd;
          if (fd === null) return resolve();
          fdatasync(fd, (err) => {
            if (err !== null) process.emitWarning(`journal: flushing ${this.#dir} to disk failed: ${err.message}`);
            resolve();
          });
        }),
    );
    this.#syncing = syncing;
    void syncing.then(() => {
      if (this.#syncing === syncing) this.#syncing = null;
    });
  }
}
