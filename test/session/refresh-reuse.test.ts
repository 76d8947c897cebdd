// docs/keycloak-semantics.md#refresh-token-rotation: refresh-token rotation and reuse detection (Keycloak 25+
// per-reuse_id chains). Each scenario replays a sequence of refresh requests
// against chains stored by refreshChainKey(reuse_id), as a client session
// stores them, and checks every answer against Keycloak's exact strings.
import test from 'ava';
import {
  EMPTY_CHAIN,
  REFRESH_ERROR,
  checkRefreshReuse,
  refreshChainKey,
  refreshReuseIntrospectionError,
  type RefreshChain,
} from '../../src/session/index.js';

const STALE = 'Stale token';
const MAX_REUSE = 'Maximum allowed refresh token reuse exceeded';

interface Step {
  jti: string;
  iat: number;
  /** The token's reuse_id claim; absent for tokens minted without one. */
  reuseId?: string;
  /** Time of the refresh = iat of the refresh token it issues. */
  at: number;
  /** Cluster start time seen by this request (default 0: started long ago). */
  startedAt?: number;
  expect: 'ok' | typeof STALE | typeof MAX_REUSE;
}

interface Scenario {
  title: string;
  maxReuse: number;
  steps: Step[];
}

const scenarios: Scenario[] = [
  {
    title: '§2.8 maxReuse 0: a token refreshes once, reusing it ⇒ "Maximum allowed refresh token reuse exceeded"',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 120, expect: MAX_REUSE },
    ],
  },
  {
    title: '§2.8 maxReuse 0: following the rotation rt1 → rt2 → rt3 always succeeds',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt3', iat: 120, reuseId: 'a', at: 130, expect: 'ok' },
    ],
  },
  {
    title: '§2.8 maxReuse 0: replaying an older token after rotation ⇒ "Stale token"',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 130, expect: STALE },
    ],
  },
  {
    title: '§2.8 maxReuse 2: a token may be used maxReuse + 1 = 3 times, the 4th fails',
    maxReuse: 2,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 111, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 112, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 113, expect: MAX_REUSE },
    ],
  },
  {
    title: '§2.8 maxReuse 2: a newer token resets the counter',
    maxReuse: 2,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 111, expect: 'ok' },
      { jti: 'rt2', iat: 111, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt2', iat: 111, reuseId: 'a', at: 121, expect: 'ok' },
      { jti: 'rt2', iat: 111, reuseId: 'a', at: 122, expect: 'ok' },
      { jti: 'rt2', iat: 111, reuseId: 'a', at: 123, expect: MAX_REUSE },
    ],
  },
  {
    title: '§2.8 maxReuse 2: stale replay of an older token fails although reuses are left',
    maxReuse: 2,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 130, expect: STALE },
    ],
  },
  {
    title: '§2.8 a token issued in the same second as the last refresh is not stale (iat < lastRefresh is strict)',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt1b', iat: 110, reuseId: 'a', at: 111, expect: 'ok' },
    ],
  },
  {
    title: '§2.8 separate reuse_id chains do not collide (two tabs / two logins)',
    maxReuse: 0,
    steps: [
      { jti: 'a1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'b1', iat: 100, reuseId: 'b', at: 115, expect: 'ok' },
      // a2 (iat 110) is older than chain b's last refresh (115): fine, other chain.
      { jti: 'a2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'b2', iat: 115, reuseId: 'b', at: 125, expect: 'ok' },
      { jti: 'a1', iat: 100, reuseId: 'a', at: 130, expect: STALE },
      { jti: 'b3', iat: 125, reuseId: 'b', at: 135, expect: 'ok' },
    ],
  },
  {
    title: '§2.8 tokens without reuse_id share the chain "" and do collide',
    maxReuse: 0,
    steps: [
      { jti: 'a1', iat: 100, at: 110, expect: 'ok' },
      { jti: 'b1', iat: 105, at: 115, expect: STALE },
    ],
  },
  {
    title: '§2.8 server restart after the last refresh: an older token is not provably stale, its counter restarts',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 130, startedAt: 125, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 131, startedAt: 125, expect: MAX_REUSE },
    ],
  },
  {
    title: '§2.8 server started exactly at the last refresh (startup ≤ lastRefresh): still stale',
    maxReuse: 0,
    steps: [
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 110, expect: 'ok' },
      { jti: 'rt2', iat: 110, reuseId: 'a', at: 120, expect: 'ok' },
      { jti: 'rt1', iat: 100, reuseId: 'a', at: 130, startedAt: 120, expect: STALE },
    ],
  },
];

for (const scenario of scenarios) {
  test(scenario.title, (t) => {
    // One client session's chains, keyed like Keycloak's notes.
    const chains = new Map<string, RefreshChain>();
    scenario.steps.forEach((s, i) => {
      const key = refreshChainKey(s.reuseId);
      const result = checkRefreshReuse(chains.get(key), { jti: s.jti, iat: s.iat }, scenario.maxReuse, s.startedAt ?? 0, s.at);
      if (result.ok) {
        chains.set(key, result.chain);
        t.is('ok', s.expect, `step ${i + 1} (${s.jti})`);
      } else {
        t.is<string, string>(result.error, s.expect, `step ${i + 1} (${s.jti})`);
      }
    });
  });
}

test('§2.8 the error strings are exactly Keycloak\'s', (t) => {
  t.is(REFRESH_ERROR.staleToken, 'Stale token');
  t.is(REFRESH_ERROR.maxReuseExceeded, 'Maximum allowed refresh token reuse exceeded');
});

test('§2.8 success stores jti, use count and the new iat as lastRefresh', (t) => {
  const r = checkRefreshReuse(undefined, { jti: 'rt1', iat: 100 }, 0, 0, 110);
  t.deepEqual(r, { ok: true, chain: { tokenId: 'rt1', useCount: 1, lastRefresh: 110 } });
});

test('§2.8 no new refresh token issued (use.refresh.tokens off): lastRefresh is unchanged', (t) => {
  const chain: RefreshChain = { tokenId: 'rt1', useCount: 1, lastRefresh: 110 };
  const r = checkRefreshReuse(chain, { jti: 'rt2', iat: 110 }, 1, 0, null);
  t.deepEqual(r, { ok: true, chain: { tokenId: 'rt2', useCount: 1, lastRefresh: 110 } });
});

test('§2.8 the stored chain is never mutated', (t) => {
  const chain = Object.freeze({ tokenId: 'rt1', useCount: 1, lastRefresh: 110 });
  t.notThrows(() => checkRefreshReuse(chain, { jti: 'rt1', iat: 100 }, 5, 0, 120));
  t.deepEqual({ ...chain }, { tokenId: 'rt1', useCount: 1, lastRefresh: 110 });
  t.deepEqual({ ...EMPTY_CHAIN }, { tokenId: null, useCount: 0, lastRefresh: 0 });
});

const keyRows: { title: string; input: unknown; expected: string }[] = [
  { title: '§2.8 chain key: no reuse_id ⇒ ""', input: undefined, expected: '' },
  { title: '§2.8 chain key: null reuse_id ⇒ ""', input: null, expected: '' },
  { title: '§2.8 chain key: the reuse_id as a string', input: 'f3c1', expected: 'f3c1' },
  { title: '§2.8 chain key: a non-string reuse_id is stringified', input: 42, expected: '42' },
];
for (const row of keyRows) {
  test(row.title, (t) => {
    t.is(refreshChainKey(row.input), row.expected);
  });
}

// Introspection applies the rules read-only (validateTokenReuse, refreshFlag false).
const used: RefreshChain = { tokenId: 'rt2', useCount: 1, lastRefresh: 120 };
const introspectionRows: { title: string; chain: RefreshChain | undefined; jti: string; iat: number; maxReuse: number; expected: string | null }[] = [
  { title: '§2.8 introspection: unused chain accepts the token', chain: undefined, jti: 'rt1', iat: 100, maxReuse: 0, expected: null },
  { title: '§2.8 introspection: the newest token (not yet used) is accepted without counting', chain: used, jti: 'rt3', iat: 120, maxReuse: 0, expected: null },
  { title: '§2.8 introspection: the current token over its reuse budget fails', chain: used, jti: 'rt2', iat: 110, maxReuse: 0, expected: MAX_REUSE },
  { title: '§2.8 introspection: the current token within its budget passes', chain: used, jti: 'rt2', iat: 110, maxReuse: 1, expected: null },
  { title: '§2.8 introspection: an older token is stale', chain: used, jti: 'rt1', iat: 100, maxReuse: 5, expected: STALE },
];
for (const row of introspectionRows) {
  test(row.title, (t) => {
    t.is<string | null, string | null>(refreshReuseIntrospectionError(row.chain, { jti: row.jti, iat: row.iat }, row.maxReuse, 0), row.expected);
  });
}
