// Goal: record validation (checkMutation) accepts exactly the well-formed
// records and names the first bad field, whatever arrives from another
// thread, node or the disk. The fast per-kind checks are held against a
// naive reference: a table of each kind's fields and their rules, walked in
// order.
// Method: fast-check records of every kind whose fields are drawn from valid
// and invalid values alike.

import test from 'ava';
import fc from 'fast-check';
import { EngineError } from '../../src/errors.js';
import { END_REASON } from '../../src/protocol/actor-messages.js';
import { checkMutation, MUTATION } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOfSessionId } from '../../src/protocol/partition.js';

type Rule = (v: unknown) => boolean;
const object = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const time: Rule = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const text: Rule = (v) => typeof v === 'string';
const flag: Rule = (v) => typeof v === 'boolean';
const id: Rule = (v) => typeof v === 'string' && partitionOfSessionId(v) >= 0;
const partition: Rule = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1024;
const reason: Rule = (v) => typeof v === 'string' && (Object.values(END_REASON) as string[]).includes(v);
const notes: Rule = (v) => v === null || (object(v) && Object.values(v).every(text));
const chain: Rule = (v) => v === null || (object(v) && (v['tokenId'] === null || text(v['tokenId'])) && time(v['useCount']) && time(v['lastRefresh']));
const offline: Rule = (v) => object(v) && text(v['id']) && v['partition'] === partitionOfSessionId(v['id'] as string) && Array.isArray(v['clients']) && text(v['realm']);

/** The reference: each kind's fields in order, with their rules. */
const REFERENCE: Record<number, [string, Rule][]> = {
  [MUTATION.sessionCreated]: [['id', id], ['partition', partition], ['realm', text], ['userId', text], ['username', text], ['ip', text], ['authMethod', text], ['rememberMe', flag], ['started', time], ['lastSessionRefresh', time], ['authTime', time], ['notes', notes]],
  [MUTATION.clientAttached]: [['id', id], ['client', text], ['started', time], ['timestamp', time], ['scope', text], ['ssoAuth', flag], ['notes', notes], ['userRefresh', (v) => v === -1 || time(v)]],
  [MUTATION.sessionTouched]: [['id', id], ['lastSessionRefresh', time]],
  [MUTATION.clientRefreshed]: [['id', id], ['client', text], ['at', time], ['chainKey', (v) => v === null || text(v)], ['chain', chain]],
  [MUTATION.clientDetached]: [['id', id], ['client', text]],
  [MUTATION.sessionRemoved]: [['id', id], ['reason', reason]],
  [MUTATION.realmCleared]: [['realm', text], ['partition', partition], ['reason', reason]],
  [MUTATION.offlineWritten]: [['id', id], ['record', offline], ['touch', flag]],
  [MUTATION.offlineRemoved]: [['id', id]],
  [MUTATION.sessionAuthenticated]: [['id', id], ['authTime', time]],
};

const sessionId = newSessionId(7);
/** Values of every shape a field may hold, valid for some rules and not for others. */
const anyValue = fc.oneof(
  fc.constantFrom(sessionId, 'not-an-id', '', 'r', 'logout', 'expired', -1, 0, 7, 1023, 1024, 1.5, 2 ** 32, true, false, null, undefined, [], {}),
  fc.constantFrom({ a: 'b' }, { a: 1 }, { tokenId: null, useCount: 1, lastRefresh: 2 }, { tokenId: 'j', useCount: -1, lastRefresh: 2 }),
  fc.constantFrom({ id: sessionId, partition: 7, clients: [], realm: 'r' }, { id: sessionId, partition: 8, clients: [], realm: 'r' }),
  fc.integer(),
  fc.string(),
);

/** A well-formed record of each kind: the property changes some of its fields. */
const VALID: Record<number, Record<string, unknown>> = {
  [MUTATION.sessionCreated]: { id: sessionId, partition: 7, realm: 'r', userId: 'u', username: 'u', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, started: 1, lastSessionRefresh: 1, authTime: 1, notes: null },
  [MUTATION.clientAttached]: { id: sessionId, client: 'c', started: 1, timestamp: 1, scope: 'openid', ssoAuth: false, notes: { a: 'b' }, userRefresh: -1 },
  [MUTATION.sessionTouched]: { id: sessionId, lastSessionRefresh: 1 },
  [MUTATION.clientRefreshed]: { id: sessionId, client: 'c', at: 1, chainKey: 'k', chain: { tokenId: null, useCount: 1, lastRefresh: 2 } },
  [MUTATION.clientDetached]: { id: sessionId, client: 'c' },
  [MUTATION.sessionRemoved]: { id: sessionId, reason: 'logout' },
  [MUTATION.realmCleared]: { realm: 'r', partition: 7, reason: 'logout' },
  [MUTATION.offlineWritten]: { id: sessionId, record: { id: sessionId, partition: 7, clients: [], realm: 'r' }, touch: false },
  [MUTATION.offlineRemoved]: { id: sessionId },
  [MUTATION.sessionAuthenticated]: { id: sessionId, authTime: 1 },
};
const FIELD_NAMES = [...new Set(Object.values(VALID).flatMap((r) => Object.keys(r)))];

test('checkMutation accepts what the reference accepts, and names the same first bad field', (t) => {
  const kinds = Object.keys(REFERENCE).map(Number);
  fc.assert(
    fc.property(fc.constantFrom(...kinds), fc.dictionary(fc.constantFrom(...FIELD_NAMES), anyValue, { maxKeys: 3 }), fc.boolean(), (k, changes, drop) => {
      const record: Record<string, unknown> = { ...VALID[k], ...changes, k };
      if (drop) delete record[Object.keys(changes)[0] ?? ''];
      const bad = REFERENCE[k]!.find(([name, rule]) => !rule(record[name]))?.[0] ?? null;
      const created = k === MUTATION.sessionCreated && bad === null && partitionOfSessionId(record.id as string) !== record.partition;
      const offlineOther = k === MUTATION.offlineWritten && bad === null && (record.record as { id: string }).id !== record.id;
      try {
        checkMutation(record);
        return bad === null && !created && !offlineOther;
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'ERR_BAD_RECORD') return false;
        return bad !== null ? err.message.includes(`field ${bad} is`) : created || offlineOther;
      }
    }),
    { numRuns: 20_000 },
  );
  t.pass();
});

test('checkMutation refuses what is not a record of a known kind', (t) => {
  for (const value of [null, 7, 'x', [], {}, { k: 42 }, { k: '1' }]) t.throws(() => checkMutation(value), { code: 'ERR_BAD_RECORD' } as never);
});
