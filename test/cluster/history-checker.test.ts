// Goal: the history checker accepts every history a correct cluster can
// produce and rejects each kind of broken promise. Method: fast-check
// generates per-session histories from a correct model (logins, rotations,
// introspections, logouts, with 'unknown' outcomes mixed in) — the checker
// must find nothing — and then breaks one promise in them (an acknowledged
// session lost, a resurrection after logout, a rotated token reused, a hung
// verification) — the checker must name that property. Seed printed.

import test from 'ava';
import fc from 'fast-check';
import { checkHistory, type HistoryEntry, type Outcome } from './history-checker.js';

const seed = Number(process.env.FC_SEED ?? 20_261_204);

interface Plan {
  login: Outcome;
  refreshes: Outcome[];
  introspects: number;
  logout: Outcome | null;
  readsAfter: number;
}

const outcome = fc.constantFrom<Outcome>('ok', 'ok', 'ok', 'unknown', 'fail');
const plan = fc.record({
  login: fc.constantFrom<Outcome>('ok', 'ok', 'unknown'),
  refreshes: fc.array(outcome, { maxLength: 4 }),
  introspects: fc.nat(3),
  logout: fc.option(fc.constantFrom<Outcome>('ok', 'ok', 'unknown'), { nil: null }),
  readsAfter: fc.nat(2),
});

/** What a correct cluster answers to one session's requests, one after another. */
function correctHistory(session: string, p: Plan, clock: { now: number }): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  const at = (): [number, number] => {
    const invoke = (clock.now += 3);
    return [invoke, (clock.now += 2)];
  };
  const push = (e: Omit<HistoryEntry, 'invokeMs' | 'completeMs' | 'node'>): void => {
    const [invokeMs, completeMs] = at();
    out.push({ ...e, node: `n${invokeMs % 3}`, invokeMs, completeMs });
  };
  push({ op: 'login', session, outcome: p.login, ...(p.login === 'ok' ? { newToken: `${session}-t0` } : {}) });
  if (p.login !== 'ok') return out;
  let token = `${session}-t0`;
  for (const [i, o] of p.refreshes.entries()) {
    const next = `${session}-t${i + 1}`;
    push({ op: 'refresh', session, token, outcome: o, ...(o === 'ok' ? { newToken: next } : {}) });
    if (o === 'unknown') break; // the chain's state is unknown from here: stop refreshing it
    if (o === 'ok') token = next;
  }
  for (let i = 0; i < p.introspects; i++) push({ op: 'introspect', session, outcome: 'ok', active: true });
  if (p.logout !== null) {
    push({ op: 'logout', session, token, outcome: p.logout });
    for (let i = 0; i < p.readsAfter; i++) {
      if (p.logout === 'ok') push({ op: 'introspect', session, outcome: 'ok', active: false });
      else push({ op: 'introspect', session, outcome: 'ok', active: i % 2 === 0 });
    }
  }
  const active = p.logout === null ? true : p.logout === 'ok' ? false : clock.now % 2 === 0;
  push({ op: 'verify', session, outcome: 'ok', active });
  return out;
}

function histories(plans: Plan[]): HistoryEntry[] {
  const clock = { now: 0 };
  return plans.flatMap((p, i) => correctHistory(`s${i}`, p, clock));
}

test('every history of a correct cluster passes', (t) => {
  t.log(`fast-check seed ${seed} (FC_SEED to override)`);
  fc.assert(
    fc.property(fc.array(plan, { minLength: 1, maxLength: 12 }), (plans) => checkHistory(histories(plans)).length === 0),
    { seed, numRuns: 300 },
  );
  t.pass();
});

const broken: [string, 'P1' | 'P2' | 'P3' | 'P4', (h: HistoryEntry[]) => HistoryEntry[] | null][] = [
  ['an acknowledged session is lost', 'P1', (h) => {
    const s = h.find((e) => e.op === 'login' && e.outcome === 'ok' && !h.some((x) => x.session === e.session && x.op === 'logout'));
    if (s === undefined) return null;
    return h.map((e) => (e.session === s.session && e.op === 'verify' ? { ...e, active: false } : e));
  }],
  ['a logged-out session answers alive', 'P2', (h) => {
    const logout = h.find((e) => e.op === 'logout' && e.outcome === 'ok');
    if (logout === undefined) return null;
    return [...h, { op: 'introspect', session: logout.session, node: 'n1', invokeMs: logout.completeMs + 1, completeMs: logout.completeMs + 2, outcome: 'ok', active: true }];
  }],
  ['a rotated-away refresh token works again', 'P3', (h) => {
    const used = h.find((e) => e.op === 'refresh' && e.outcome === 'ok');
    if (used === undefined) return null;
    const later = Math.max(...h.map((e) => e.completeMs)) + 1;
    return [...h, { op: 'refresh', session: used.session, token: used.token!, node: 'n2', invokeMs: later, completeMs: later + 1, outcome: 'ok', newToken: 'x' }];
  }],
  ['a verification hangs', 'P4', (h) => {
    const v = h.find((e) => e.op === 'verify');
    if (v === undefined) return null;
    return h.map((e) => (e === v ? { ...e, outcome: 'unknown' as const } : e));
  }],
];

for (const [what, property, mutate] of broken) {
  test(`a broken promise is caught: ${what} (${property})`, (t) => {
    let tried = 0;
    fc.assert(
      fc.property(fc.array(plan, { minLength: 1, maxLength: 12 }), (plans) => {
        const mutated = mutate(histories(plans));
        if (mutated === null) return true; // nothing of that kind to break in this history
        tried++;
        return checkHistory(mutated).some((v) => v.property === property);
      }),
      { seed, numRuns: 300 },
    );
    t.true(tried > 50, `the mutation applied to ${tried} generated histories`);
  });
}
