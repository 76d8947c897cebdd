// State transfer converges: a new owner that is sent each partition's
// sessions (an export taken at some moment, with the partition's position in
// its record stream) followed by that partition's later records ends up with
// the primary's table — whatever moment each partition was exported at, and
// however the partitions' streams interleave. This is the order the
// replicator keeps (src/cluster/replicator.ts): records produced while an
// export runs wait, and only those after the export follow it. Exports are
// the shard's own (partitionExport), packed in chunks as they travel. What
// lives beside the table travels with the export as the commands that
// recreate it (auth codes, login-failure records).

import test, { type ExecutionContext } from 'ava';
import { ShardActor } from '../../src/actor/shard-actor.js';
import { SessionTable } from '../../src/actor/session-table.js';
import type { Command, EndReason, LoginFailurePutCommand, LoginFailureRecordResult, PartitionExport } from '../../src/protocol/actor-messages.js';
import { OP } from '../../src/protocol/actor-ops.js';
import { checkMutations, partitionOfRecord, type Mutation } from '../../src/protocol/mutations.js';
import { newSessionId, partitionOf } from '../../src/protocol/partition.js';
import { unpackChunk } from '../../src/protocol/transfer-chunks.js';
import { bruteForceSettings, type LoginFailureRecord } from '../../src/session/brute-force.js';
import { CLIENT_SESSION_DEFAULTS } from '../../src/session/client-settings.js';
import { realmSessionSettings } from '../../src/session/realm-settings.js';
import { ManualClock } from '../../src/time/clock.js';
import { manualBoot } from '../helpers/boot.js';
import { compareTables, lcg } from '../helpers/table-compare.js';

const START = 1_800_000_000;
const BOOT = manualBoot(START);
const REALMS = ['r1', 'r2'];
const CLIENTS = ['a', 'b', 'c'];
/** Few users, so a handful of partitions each see many sessions and records. */
const USERS = Array.from({ length: 6 }, (_, i) => `user-${i}`);
const STEPS = 1500;
const SEEDS = [1, 2, 3, 4, 5];

/** One random command of the workload (creates, attaches, rotations, touches, detaches, logouts, logout-all). */
function randomCommand(random: () => number, actor: ShardActor, now: number, step: number): Command {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const ids = actor.table.allSlots().map((s) => actor.table.idOf(s));
  const realm = pick(REALMS);
  if (random() < 0.25 || ids.length === 0) {
    const userId = pick(USERS);
    return {
      op: OP.sessionCreate, id: newSessionId(partitionOf(realm, userId)), realm, userId, username: userId, ip: '10.0.0.1',
      authMethod: 'openid-connect', rememberMe: false, now, client: { client: pick(CLIENTS), scope: 'openid' }, limits: null, notes: null,
    };
  }
  const id = pick(ids);
  const client = pick(CLIENTS);
  const x = random();
  if (x < 0.3) return { op: OP.sessionAttachClient, id, realm, now, client: { client, scope: 'openid', ssoAuth: false }, touchUser: true };
  if (x < 0.6) {
    const token = { jti: `j-${step}`, iat: now, reuseId: '' };
    return { op: OP.sessionRefresh, id, realm, client, now, token, user: { enabled: true, notBefore: 0 }, notBefore: { realm: 0, client: 0 }, serverStartedAt: START };
  }
  if (x < 0.75) return { op: OP.sessionTouch, id, now };
  if (x < 0.85) return { op: OP.sessionDetachClient, id, client, removeIfEmpty: true };
  if (x < 0.97) return { op: OP.sessionRemove, id, reason: 'logout' as EndReason };
  return { op: OP.realmRemove, realm: pick(REALMS) };
}

for (const seed of SEEDS) {
  test(`a fuzzy snapshot per partition plus its later records rebuilds the primary's table (seed ${seed})`, (t) => {
    const random = lcg(seed);
    const actor = new ShardActor(BOOT, new ManualClock(START), () => {});
    t.teardown(() => actor.close());
    const receiver = new SessionTable({ graceSeconds: 120, startSecond: START });
    const settings = realmSessionSettings({ ssoSessionIdleTimeout: 3600, ssoSessionMaxLifespan: 36_000, revokeRefreshToken: true });
    for (const table of [actor.table, receiver]) {
      for (const realm of REALMS) {
        table.putRealm(realm, settings);
        for (const client of CLIENTS) table.putClient(realm, client, CLIENT_SESSION_DEFAULTS);
      }
    }
    for (const realm of REALMS) actor.execute({ op: OP.realmPut, realm, settings });

    // Every record the primary produces, in order; per partition, when (which step) it was exported.
    const records: { step: number; m: Mutation }[] = [];
    let step = 0;
    actor.table.onMutation((m) => records.push({ step, m: structuredClone(m) }));
    const exportAt = new Map<number, number>();
    const exported = new Map<number, Mutation[]>();
    const partitions = [...new Set(REALMS.flatMap((r) => USERS.map((u) => partitionOf(r, u))))];
    for (const p of partitions) exportAt.set(p, Math.floor(random() * STEPS));

    let now = START;
    for (step = 0; step < STEPS; step++) {
      for (const p of partitions) {
        if (exportAt.get(p) !== step) continue;
        // The shard's own export, packed as it travels, unpacked as the receiving shard does.
        const { chunks } = actor.execute({ op: OP.partitionExport, partition: p }) as PartitionExport;
        exported.set(p, chunks.flatMap((chunk) => checkMutations(unpackChunk(chunk)) as Mutation[])); // no offline sessions here
      }
      if (random() < 0.05) now += 1 + Math.floor(random() * 30);
      try {
        actor.execute(randomCommand(random, actor, now, step));
      } catch {
        // refused commands change nothing
      }
      // What the shard's turn loop does after a logout-all: free the cleared realm's sessions.
      actor.table.clearSlice(Number.MAX_SAFE_INTEGER);
    }

    // The receiver: partitions in a random order, each its export then its later records.
    const order = [...partitions].sort(() => random() - 0.5);
    for (const p of order) {
      for (const m of exported.get(p) ?? []) receiver.apply(m);
      for (const r of records) if (r.step >= exportAt.get(p)! && partitionOfRecord(r.m) === p) receiver.apply(r.m);
    }
    t.true(actor.table.size > 0, 'sessions are left to compare');
    // What a promotion does before the copy serves listings (partition-roles.ts).
    receiver.sortListsByStart();
    compareTables(t, actor.table, receiver, CLIENTS, REALMS, 'byStart');
  });
}

/** A primary's shard and the shard it is sent a partition's export, on one manual clock at START. */
function twoShards(t: ExecutionContext): { primary: ShardActor; receiver: ShardActor } {
  const clock = new ManualClock(START);
  const primary = new ShardActor(BOOT, clock, () => {});
  const receiver = new ShardActor(BOOT, clock, () => {});
  t.teardown(() => {
    primary.close();
    receiver.close();
  });
  return { primary, receiver };
}

// Goal: a transfer carries the partition's pending auth codes (a code issued
// before a node was being filled must be there once that node is primary),
// and only those: not another partition's, not expired ones. Replayed on a
// receiving shard followed by the commands asked since the export, a code
// taken after the export stays taken.
// Method: a shard holding codes of two partitions exports one; a second shard
// runs the export's puts, then a take asked after the export, then is asked
// for each code.
test('an export carries its partition\'s pending auth codes; replayed with the commands asked since, a code taken meanwhile stays taken', (t) => {
  const { primary, receiver } = twoShards(t);
  const data = (exp: number) => ({ client: 'c', redirectUri: 'https://app/cb', scope: 'openid', nonce: null, codeChallenge: null, codeChallengeMethod: null, exp, ssoAuth: false });
  const [p, other] = [5, 6];
  const put = (partition: number, code: string, exp = START + 60): Command => ({ op: OP.codePut, id: newSessionId(partition), code, data: data(exp) });
  const kept = put(p, 'kept');
  const takenLater = put(p, 'taken-later');
  for (const command of [kept, takenLater, put(p, 'expired', START - 1), put(other, 'elsewhere')]) t.true(primary.execute(command) as boolean);

  const { codes } = primary.execute({ op: OP.partitionExport, partition: p }) as PartitionExport;
  t.deepEqual(codes, [kept, takenLater], 'this partition\'s codes not expired, as the puts that recreate them');

  const take = (command: Command, now = START): Command => ({ op: OP.codeTake, id: (command as { id: string }).id, code: (command as { code: string }).code, now });
  t.truthy(primary.execute(take(takenLater)), 'taken on the primary after the export');
  for (const command of [...codes, take(takenLater)]) receiver.execute(command);
  t.deepEqual(receiver.execute(take(kept)), data(START + 60), 'a code issued before the transfer is there to be taken');
  t.is(receiver.execute(take(takenLater)), null, 'a code taken after the export is not there again');
});

// Goal: a transfer carries the partition's login-failure records, and a
// failure recorded after the export reaches the receiver as the record it
// left, so the receiver counts on from the primary's count, however often a
// record is replayed; a malformed record is refused and changes nothing.
// Method: a shard records failures of two users in two partitions and
// exports one partition; a second shard runs the export's puts and the
// later failure's put twice, and is asked for the user's record.
test('an export carries its partition\'s login-failure records; a failure recorded since travels as the record it left, so replaying it cannot count twice', (t) => {
  const { primary, receiver } = twoShards(t);
  const p = partitionOf('r1', 'alice');
  const elsewhere = USERS.find((u) => partitionOf('r1', u) !== p)!;
  const nowMs = START * 1000;
  const fail = (userId: string): LoginFailureRecordResult =>
    primary.execute({ op: OP.loginFailureRecord, realm: 'r1', userId, nowMs, ip: '10.0.0.9', settings: bruteForceSettings() } as Command) as LoginFailureRecordResult;
  fail('alice');
  fail('alice');
  fail(elsewhere);

  const { loginFailures } = primary.execute({ op: OP.partitionExport, partition: p }) as PartitionExport;
  t.deepEqual(loginFailures.map((c) => [c.userId, c.record.numFailures]), [['alice', 2]], 'this partition\'s records only');
  // A third failure after the export: the copies are sent the record it left (what the cluster router ships).
  const third = fail('alice');
  const shipped: LoginFailurePutCommand = { op: OP.loginFailurePut, realm: 'r1', userId: 'alice', record: third.record, expiresAtMs: loginFailures[0]!.expiresAtMs };
  for (const command of [...loginFailures, shipped, shipped]) t.true(receiver.execute(command) as boolean);
  const got = receiver.execute({ op: OP.loginFailureGet, realm: 'r1', userId: 'alice', nowMs }) as LoginFailureRecord;
  t.deepEqual(got, primary.execute({ op: OP.loginFailureGet, realm: 'r1', userId: 'alice', nowMs }), 'the same record as the primary: 3 failures, however often replayed');
  t.is(got.numFailures, 3);

  const malformed = { ...shipped, record: { ...shipped.record, numFailures: 'many' } } as unknown as Command;
  t.throws(() => receiver.execute(malformed), { message: /numFailures/ });
  t.is((receiver.execute({ op: OP.loginFailureGet, realm: 'r1', userId: 'alice', nowMs }) as LoginFailureRecord).numFailures, 3, 'a malformed record changes nothing');
});

// Goal: a copy filled again by a transfer (a backup resynchronised after its
// stream broke) ends up with the primary's sessions as the primary has them:
// one the primary ended while the stream was down (its removal lost with the
// stream) goes once the transfer is done, and not before (a copy promoted
// mid-transfer keeps what it had); one changed meanwhile is replaced.
// Method: a primary shard and a receiving shard holding the partition as a
// passive copy; the receiver misses a logout; a transfer (refill, the export's
// chunks, a record after the export, done) follows.
test('a copy filled again drops, once the transfer is done, the sessions its primary ended while it missed their records', (t) => {
  const { primary, receiver } = twoShards(t);
  const settings = realmSessionSettings({ ssoSessionIdleTimeout: 3600, ssoSessionMaxLifespan: 36_000 });
  for (const shard of [primary, receiver]) {
    shard.execute({ op: OP.realmPut, realm: 'r1', settings });
    shard.execute({ op: OP.clientPut, realm: 'r1', client: 'a', settings: CLIENT_SESSION_DEFAULTS });
  }
  const p = partitionOf('r1', 'alice');
  receiver.execute({ op: OP.partitionRoles, partitions: [p], role: 'passive' });
  const sent: Mutation[] = [];
  primary.table.onMutation((m) => sent.push(structuredClone(m)));
  const login = (): string => {
    const id = newSessionId(p);
    primary.execute({ op: OP.sessionCreate, id, realm: 'r1', userId: 'alice', username: 'alice', ip: '10.0.0.1', authMethod: 'openid-connect', rememberMe: false, now: START, client: null, limits: null, notes: null });
    return id;
  };
  const ship = (): void => void receiver.execute({ op: OP.mutationsReplay, mutations: sent.splice(0) });
  const [kept, endedUnseen, endedLater] = [login(), login(), login()];
  ship();
  primary.execute({ op: OP.sessionRemove, id: endedUnseen, reason: 'logout' });
  primary.execute({ op: OP.sessionAttachClient, id: kept, realm: 'r1', now: START, client: { client: 'a', scope: 'openid', ssoAuth: false }, touchUser: true });
  sent.length = 0; // lost with the broken stream
  const createdUnseen = login();
  sent.length = 0;

  receiver.execute({ op: OP.copyRefill, partition: p });
  const { chunks } = primary.execute({ op: OP.partitionExport, partition: p }) as PartitionExport;
  for (const chunk of chunks) receiver.execute({ op: OP.chunkReplay, partition: p, chunk });
  primary.execute({ op: OP.sessionRemove, id: endedLater, reason: 'logout' });
  const createdLater = login();
  ship();
  const held = (): string[] => receiver.table.partitionSlots(p).map((slot) => receiver.table.idOf(slot)).sort();
  t.deepEqual(held(), [kept, endedUnseen, createdUnseen, createdLater].sort(), 'until done, the copy keeps what it had');
  t.is(receiver.execute({ op: OP.copyFilled, partition: p }), 1);
  t.deepEqual(held(), [kept, createdUnseen, createdLater].sort(), 'the primary\'s sessions, no other');
  t.deepEqual(receiver.table.view(receiver.table.partitionSlots(p).find((slot) => receiver.table.idOf(slot) === kept)!).clients.map((c) => c.client), ['a'], 'as the primary has them');
});
