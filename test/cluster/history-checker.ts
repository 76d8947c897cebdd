// The history checker of the cluster tests: reads what a workload did (one
// entry per request, with when it was invoked and completed and how it
// ended) and says whether the cluster kept its promise. Sessions are
// independent, so the history is checked session by session (the reason
// checkers like Porcupine are fast on such histories), against a tiny model:
//
//   P1 durability       a session whose login was acknowledged, and whose
//                       logout was never acknowledged nor attempted (a replayed
//                       code counts: it detaches the client session), is active
//                       in the final verification
//   P2 no resurrection  once a logout is acknowledged, every read invoked
//                       after that answered 2xx says inactive
//   P3 single use       once a refresh-token rotation is acknowledged, the
//                       old token never succeeds again if presented after it;
//                       an acknowledged code exchange makes the code fail
//   P4 liveness         every verification read after the heal completed
//                       (none ended 'unknown': no request hung)
//
// An 'unknown' outcome (timeout, 5xx, connection error) may or may not have
// taken effect, so it proves nothing and is never required of anything: a
// login that ended unknown is not required to exist, a logout that ended
// unknown lets the session be either, a rotation that ended unknown may or may
// not have used the old token.

export type Outcome = 'ok' | 'fail' | 'unknown';

export interface HistoryEntry {
  op: 'login' | 'refresh' | 'introspect' | 'logout' | 'code' | 'verify';
  /** The user session (sid) the request is about. */
  session: string;
  /** The token presented: the refresh token (refresh, logout) or the code (code). */
  token?: string;
  /** refresh: the refresh token that came back. */
  newToken?: string;
  node: string;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** introspect / verify: whether the session was reported active. */
  active?: boolean;
  /** The HTTP status, when one came back (diagnostics and availability measures). */
  status?: number;
  /** Why it failed: the OAuth error_description, or the transport error. */
  detail?: string;
  /** A deliberate misuse (a replayed token or code) or its aftermath: a refusal here is no failure of the service. */
  probe?: boolean;
}

export interface Violation {
  property: 'P1' | 'P2' | 'P3' | 'P4';
  session: string;
  detail: string;
}

/** Checks a whole history; an empty answer means the cluster kept its promise. */
export function checkHistory(history: readonly HistoryEntry[]): Violation[] {
  const bySession = new Map<string, HistoryEntry[]>();
  for (const entry of history) {
    let list = bySession.get(entry.session);
    if (list === undefined) bySession.set(entry.session, (list = []));
    list.push(entry);
  }
  const violations: Violation[] = [];
  for (const [session, entries] of bySession) violations.push(...checkSession(session, entries));
  return violations;
}

function checkSession(session: string, entries: readonly HistoryEntry[]): Violation[] {
  const out: Violation[] = [];
  const acked = (op: HistoryEntry['op']): HistoryEntry[] => entries.filter((e) => e.op === op && e.outcome === 'ok');
  const loggedInAck = acked('login').length > 0;
  // A replayed code (the workload's probe of a used one) ends the client session on purpose, as
  // Keycloak does when a code may have been stolen: for P1 it counts as an attempted logout.
  const logoutsAttempted = entries.filter((e) => e.op === 'logout' || (e.op === 'code' && e.probe === true));
  const firstLogoutAck = Math.min(...acked('logout').map((e) => e.completeMs));

  for (const v of entries.filter((e) => e.op === 'verify')) {
    if (v.outcome === 'unknown') out.push({ property: 'P4', session, detail: `verification on ${v.node} did not complete` });
  }
  // P1: acknowledged, never logged out (nor a logout attempted): must be active at verification.
  if (loggedInAck && logoutsAttempted.length === 0) {
    for (const v of entries.filter((e) => e.op === 'verify' && e.outcome === 'ok')) {
      if (v.active !== true) out.push({ property: 'P1', session, detail: `acknowledged session inactive at verification on ${v.node} (${v.invokeMs} ms)` });
    }
  }
  // P2: reads invoked after an acknowledged logout that answered 2xx say inactive.
  for (const read of entries) {
    if (!(read.op === 'introspect' || read.op === 'verify' || read.op === 'refresh') || read.outcome !== 'ok') continue;
    if (read.invokeMs <= firstLogoutAck) continue;
    const alive = read.op === 'refresh' || read.active === true;
    if (alive) out.push({ property: 'P2', session, detail: `${read.op} on ${read.node} at ${read.invokeMs} ms found the session alive after its logout was acknowledged at ${firstLogoutAck} ms` });
  }
  // P3: a rotated-away refresh token, or a used code, never succeeds when presented after the acknowledgment.
  for (const used of [...acked('refresh'), ...acked('code')]) {
    if (used.token === undefined) continue;
    for (const again of entries) {
      if (again === used || again.op !== used.op || again.token !== used.token || again.outcome !== 'ok') continue;
      if (again.invokeMs > used.completeMs) {
        out.push({ property: 'P3', session, detail: `${used.op} token ${used.token} succeeded again on ${again.node} at ${again.invokeMs} ms after its use was acknowledged at ${used.completeMs} ms` });
      }
    }
  }
  return out;
}
