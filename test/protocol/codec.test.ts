// Goal: frames survive the trip between threads exactly: every command and
// reply shape round-trips, each frame owns its bytes (so transferring its
// buffer cannot corrupt a later frame), a frame decodes on its own, by any
// unpacker of the shared structures, and the shared list matches what the
// code builds.
// Method: round trips, buffer ownership checks, a fresh Unpackr per frame.

import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import type { BatchMessage, ReplyMessage } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { SessionTable } from '../../src/actor/session-table.js';
import { SHARED_STRUCTURES, decodeFrame, encodeFrame, frameUnpackr } from '../../src/protocol/codec.js';
import { MUTATION } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';

const seed = Number(process.env.FC_SEED ?? 20_251_125);

const batch: BatchMessage = {
  kind: 'batch',
  id: 7,
  commands: [
    {
      op: OP.sessionCreate,
      id: 'AAAAAAAAAAAAAAAAAAAAAAAA',
      realm: 'démo',
      userId: 'u-1',
      username: 'ålice',
      ip: '2001:db8::1',
      authMethod: 'openid-connect',
      rememberMe: true,
      now: 1_800_000_000,
      client: { client: 'c-1', scope: 'openid', ssoAuth: true, notes: { nonce: 'n' } },
      limits: { realmLimit: 2, clientLimit: 0, behavior: 'deny' },
      notes: null,
    },
    { op: OP.sessionTouch, id: 'BBBBBBBBBBBBBBBBBBBBBBBB', now: 4_294_967_295 },
    { op: OP.revokeFilter, realm: 'demo', filter: { userId: 'u', ipNotIn: ['10.0.0.0/8'], lastAccessBefore: 5 }, reason: 'revoked' },
    { op: OP.statsGet },
  ],
};

test('a batch of commands round-trips exactly', (t) => {
  t.deepEqual(decodeFrame<BatchMessage>(encodeFrame(batch)), batch);
});

test('a reply with results, nulls and errors round-trips exactly', (t) => {
  const reply: ReplyMessage = {
    kind: 'reply',
    id: 3,
    results: [null, true, 12, [['c-1', 3]], { ok: false, error: 'Stale token', detached: true, ended: null }],
    errors: [[0, { code: 'ERR_REALM_UNKNOWN', message: 'realm x not found', detail: { realm: 'x' } }]],
  };
  t.deepEqual(decodeFrame<ReplyMessage>(encodeFrame(reply)), reply);
});

test('each frame owns a standalone buffer that may be transferred', (t) => {
  const a = encodeFrame(batch);
  t.is(a.byteOffset, 0);
  t.is(a.buffer.byteLength, a.byteLength, 'not a view into a shared pool');
  const copy = Uint8Array.from(a);
  // Transferring (detaching) the first frame's buffer must not disturb the next one.
  structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
  t.is(a.byteLength, 0, 'the buffer was detached');
  const b = encodeFrame(batch);
  t.deepEqual(Uint8Array.from(b), copy);
  t.deepEqual(decodeFrame(b), batch);
});

test('a frame decodes on its own, by any unpacker of the shared structures, in any order', (t) => {
  encodeFrame(batch);
  const frames = [encodeFrame({ kind: 'ready', shard: 1 }), encodeFrame(batch), encodeFrame({ kind: 'ready', shard: 2 })];
  // Decode in reverse order, each with a fresh unpacker, as another shard would.
  t.deepEqual(frameUnpackr().unpack(frames[2]!), { kind: 'ready', shard: 2 });
  t.deepEqual(frameUnpackr().unpack(frames[1]!), batch);
});

test('shared structures: listed shapes travel as one-byte references, unlisted ones still round-trip', (t) => {
  const view = {
    id: 'AAAAAAAAAAAAAAAAAAAAAAAA', realm: 'r', userId: 'u', username: 'ann', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false,
    started: 1, lastSessionRefresh: 2, authTime: 1, clients: [{ client: 'c', started: 1, timestamp: 2, scope: 'openid', ssoAuth: false, notes: null }], notes: null,
  };
  const reply: ReplyMessage = { kind: 'reply', id: 9, results: [{ ok: true, session: view }], errors: null };
  const listed = encodeFrame(reply);
  t.false(Buffer.from(listed).includes('lastSessionRefresh'), 'no key names on the wire');
  t.deepEqual(decodeFrame(listed), reply);
  const reordered = { ...reply, results: [{ session: view, ok: true, extra: [1, { z: 1, a: 2 }] }] };
  t.deepEqual(decodeFrame(encodeFrame(reordered)), reordered);
});

test('the shared list matches the shapes the code builds (a drifted list only costs speed, this keeps it fast)', (t) => {
  const table = new SessionTable({ graceSeconds: 0, startSecond: 1 });
  const id = newSessionId(partitionOf('r', 'u'));
  table.apply({ k: MUTATION.sessionCreated, id, partition: partitionOf('r', 'u'), realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'x', rememberMe: false, started: 1, lastSessionRefresh: 1, authTime: 1, notes: null });
  table.apply({ k: MUTATION.clientAttached, id, client: 'c', started: 1, timestamp: 1, scope: '', ssoAuth: false, notes: null, userRefresh: -1 });
  const view = table.view(table.slotOf(id));
  const listed = (keys: string[]): boolean => SHARED_STRUCTURES.some((s) => s.length === keys.length && s.every((k, i) => k === keys[i]));
  t.true(listed(Object.keys(view)), 'session view');
  t.true(listed(Object.keys(view.clients[0]!)), 'client session view');
});

test('undecodable bytes throw (the receiver reports them, it does not crash)', (t) => {
  t.throws(() => decodeFrame(new Uint8Array([0x92, 0x01])), undefined, 'a truncated array');
  t.throws(() => decodeFrame(new Uint8Array([0xdb, 0, 0, 0, 9, 0x61])), undefined, 'a truncated string');
  t.throws(() => decodeFrame(new Uint8Array([0xd4])), undefined, 'a truncated extension');
});

test('property: JSON-like values round-trip', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  const value = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(decodeFrame(encodeFrame(v)), v);
    }),
    { seed, numRuns: 500 },
  );
  t.pass();
});
