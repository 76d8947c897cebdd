// docs/keycloak-semantics.md#not-before-revocation: not-before revocation. Check = iat < notBefore ⇒ stale;
// the client check uses the min rule (TokenManager.NotBeforeCheck.forModel).
import test from 'ava';
import {
  bearerTokenStale,
  clientCheckNotBefore,
  isStale,
  notBeforePolicy,
  refreshTokenStale,
} from '../../src/session/index.js';
import { T0 } from './fixtures.js';

const minRows: { title: string; realm: number; client: number; expected: number }[] = [
  { title: '§3 min rule: both 0 ⇒ 0 (no check)', realm: 0, client: 0, expected: 0 },
  { title: '§3 min rule: client 0 ⇒ realm value', realm: T0, client: 0, expected: T0 },
  { title: '§3 min rule: realm 0 ⇒ client value', realm: 0, client: T0, expected: T0 },
  { title: '§3 min rule: client later than realm ⇒ realm (client value ignored)', realm: T0, client: T0 + 500, expected: T0 },
  { title: '§3 min rule: client earlier than realm ⇒ client', realm: T0 + 500, client: T0, expected: T0 },
];
for (const row of minRows) {
  test(row.title, (t) => {
    t.is(clientCheckNotBefore(row.realm, row.client), row.expected);
  });
}

const staleRows: { title: string; iat: number; nb: number; expected: boolean }[] = [
  { title: '§3 iat = notBefore − 1 is stale', iat: T0 - 1, nb: T0, expected: true },
  { title: '§3 iat = notBefore is not stale (strict <)', iat: T0, nb: T0, expected: false },
  { title: '§3 iat = notBefore + 1 is not stale', iat: T0 + 1, nb: T0, expected: false },
  { title: '§3 notBefore 0 never makes a token stale', iat: 1, nb: 0, expected: false },
];
for (const row of staleRows) {
  test(row.title, (t) => {
    t.is(isStale(row.iat, row.nb), row.expected);
  });
}

const IAT = T0 + 100;
const refreshRows: { title: string; nb: { realm: number; client: number; user: number }; refresh: boolean; bearer: boolean }[] = [
  { title: '§3 nothing set: neither refresh nor bearer is stale', nb: { realm: 0, client: 0, user: 0 }, refresh: false, bearer: false },
  { title: '§3 realm not-before after iat: refresh and bearer stale', nb: { realm: IAT + 1, client: 0, user: 0 }, refresh: true, bearer: true },
  { title: '§3 client not-before after iat (realm 0): stale', nb: { realm: 0, client: IAT + 1, user: 0 }, refresh: true, bearer: true },
  {
    title: '§3 client not-before after iat but realm not-before before it: min rule ignores the client value',
    nb: { realm: IAT - 50, client: IAT + 1, user: 0 },
    refresh: false,
    bearer: false,
  },
  { title: '§3 user not-before after iat (logout of the user): stale', nb: { realm: 0, client: 0, user: IAT + 1 }, refresh: true, bearer: true },
  { title: '§3 all not-befores equal to iat: not stale', nb: { realm: IAT, client: IAT, user: IAT }, refresh: false, bearer: false },
];
for (const row of refreshRows) {
  test(`${row.title} (refresh grant)`, (t) => {
    t.is(refreshTokenStale(IAT, row.nb), row.refresh);
  });
  test(`${row.title} (bearer / introspection)`, (t) => {
    t.is(bearerTokenStale(IAT, row.nb), row.bearer);
  });
}

const policyRows: { title: string; args: [number, number, number]; expected: number }[] = [
  { title: '§3 not-before-policy = max(realm, client, user): realm largest', args: [T0 + 3, T0 + 1, T0 + 2], expected: T0 + 3 },
  { title: '§3 not-before-policy = max(realm, client, user): client largest', args: [T0 + 1, T0 + 3, T0 + 2], expected: T0 + 3 },
  { title: '§3 not-before-policy = max(realm, client, user): user largest', args: [T0 + 1, T0 + 2, T0 + 3], expected: T0 + 3 },
  { title: '§3 not-before-policy with nothing set = 0', args: [0, 0, 0], expected: 0 },
];
for (const row of policyRows) {
  test(row.title, (t) => {
    t.is(notBeforePolicy(...row.args), row.expected);
  });
}
