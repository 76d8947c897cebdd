// OIDC back-channel logout (docs/keycloak-semantics.md#what-clients-receive): when a user session ends by
// logout, admin delete, user logout or a session limit, every client of the
// session with a `backchannel.logout.url` receives a POSTed `logout_token`.
// Delivery happens off the request path: a bounded queue, a few concurrent
// deliveries, a short timeout per attempt and bounded retries. Failures are
// counted and logged and never hold up or undo the logout itself.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EndedSession } from '../protocol/actor-messages.js';
import type { RealmStore } from '../realm/realm-store.js';
import { boolAttribute, CLIENT_ATTRIBUTE } from '../session/client-settings.js';
import type { KeyRing } from '../tokens/key-ring.js';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Time to wait for one delivery attempt. */
export const BACKCHANNEL_TIMEOUT_MS = 5_000;
/** Attempts per delivery (first try included). */
export const BACKCHANNEL_ATTEMPTS_MAX = 3;
const BACKCHANNEL_RETRY_BASE_MS = 200;
/** Deliveries in flight at once. */
const BACKCHANNEL_CONCURRENCY = 16;
/** Deliveries waiting; past it new ones are dropped (and counted). */
const BACKCHANNEL_QUEUE_MAX = 10_000;
/** Client-session notes a legacy adapter leaves at code exchange (Keycloak's AdapterConstants). */
export const CLIENT_SESSION_NOTE = Object.freeze({ state: 'client_session_state', host: 'client_session_host' });
/** The placeholder of a back-channel logout URL that the client session's host note replaces. */
export const SESSION_HOST_PLACEHOLDER = '${application.session.host}';
/** Keycloak 26 logout tokens expire two minutes after issue. */
const LOGOUT_TOKEN_LIFETIME_S = 120;

export type BackchannelOutcome = 'success' | 'failure' | 'dropped';

interface Delivery {
  url: string;
  body: string;
  clientId: string;
  sessionId: string;
  attempt: number;
}

/**
 * ResourceAdminManager.logoutClientSessionWithBackchannelLogoutUrl: every
 * `${application.session.host}` becomes the client session's host note;
 * null when the URL needs one and the session has none.
 */
export function sessionUrl(configured: string, notes: Record<string, string> | null): string | null {
  if (!configured.includes(SESSION_HOST_PLACEHOLDER)) return configured;
  const host = notes?.[CLIENT_SESSION_NOTE.host];
  return host === undefined ? null : configured.replaceAll(SESSION_HOST_PLACEHOLDER, host);
}

export class BackchannelLogout {
  readonly #store: RealmStore;
  readonly #keys: KeyRing;
  readonly #log: Logger;
  readonly #onOutcome: (outcome: BackchannelOutcome) => void;
  readonly #queue: Delivery[] = [];
  #active = 0;
  readonly #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(deps: { store: RealmStore; keys: KeyRing; log: Logger; onOutcome?: (outcome: BackchannelOutcome) => void }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#log = deps.log;
    this.#onOutcome = deps.onOutcome ?? (() => {});
  }

  /** Deliveries waiting or in flight. */
  get pending(): number {
    return this.#queue.length + this.#active;
  }

  /**
   * Queues logout tokens for the clients of ended sessions (their client
   * sessions are in the views). `issuer` is the realm issuer URL. Returns at once.
   */
  notify(realmId: string, issuer: string, ended: readonly EndedSession[], nowSeconds: number): void {
    if (this.#closed || ended.length === 0) return;
    const realm = this.#store.realmById(realmId);
    if (realm === undefined) return;
    const signer = this.#keys.signer(realmId, realm.defaultSignatureAlgorithm);
    if (signer === undefined) return;
    for (const { session } of ended) {
      for (const cs of session.clients) {
        const client = this.#store.clientById(cs.client);
        const configured = client?.attributes[CLIENT_ATTRIBUTE.backchannelLogoutUrl];
        if (client === undefined || !client.enabled || configured === undefined || configured.trim() === '') continue;
        const url = sessionUrl(configured.trim(), cs.notes);
        if (url === null) {
          // Keycloak fails this delivery too (no host to put in the URL).
          this.#onOutcome('failure');
          this.#log.warn({ client: client.clientId }, `back-channel logout URL needs ${SESSION_HOST_PLACEHOLDER} but the client session has no host`);
          continue;
        }
        const claims: Record<string, unknown> = {
          iat: nowSeconds,
          exp: nowSeconds + LOGOUT_TOKEN_LIFETIME_S,
          jti: randomUUID(),
          iss: issuer,
          aud: client.clientId,
          sub: session.userId,
          typ: 'Logout',
        };
        if (boolAttribute(client.attributes, CLIENT_ATTRIBUTE.backchannelLogoutSessionRequired, true)) claims['sid'] = session.id;
        const events: Record<string, unknown> = { [BACKCHANNEL_EVENT]: {} };
        if (boolAttribute(client.attributes, CLIENT_ATTRIBUTE.backchannelLogoutRevokeOfflineTokens, false)) events['revoke_offline_access'] = true;
        claims['events'] = events;
        const token = signer.sign(claims, 'logout+jwt');
        this.#enqueue({
          url,
          body: new URLSearchParams({ logout_token: token }).toString(),
          clientId: client.clientId,
          sessionId: session.id,
          attempt: 0,
        });
      }
    }
  }

  /** Resolves when nothing is waiting or in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking new deliveries; waits for those under way up to `timeoutMs`. */
  async close(timeoutMs = BACKCHANNEL_TIMEOUT_MS): Promise<void> {
    this.#closed = true;
    await Promise.race([this.idle(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  #enqueue(delivery: Delivery): void {
    if (this.#queue.length >= BACKCHANNEL_QUEUE_MAX) {
      this.#onOutcome('dropped');
      this.#log.warn({ client: delivery.clientId }, 'back-channel logout queue full: delivery dropped');
      return;
    }
    this.#queue.push(delivery);
    this.#pump();
  }

  #pump(): void {
    while (this.#active < BACKCHANNEL_CONCURRENCY && this.#queue.length > 0) {
      const delivery = this.#queue.shift()!;
      this.#active++;
      void this.#deliver(delivery).finally(() => {
        this.#active--;
        this.#pump();
        if (this.pending === 0) for (const waiter of this.#idleWaiters.splice(0)) waiter();
      });
    }
  }

  async #deliver(delivery: Delivery): Promise<void> {
    delivery.attempt++;
    let detail: string;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(BACKCHANNEL_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) {
        this.#onOutcome('success');
        return;
      }
      detail = `HTTP ${response.status}`;
    } catch (err) {
      detail = err instanceof Error ? err.message : String(err);
    }
    if (delivery.attempt < BACKCHANNEL_ATTEMPTS_MAX && !this.#closed) {
      const delay = BACKCHANNEL_RETRY_BASE_MS * 4 ** (delivery.attempt - 1);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      return this.#deliver(delivery);
    }
    this.#onOutcome('failure');
    this.#log.warn({ client: delivery.clientId, session: delivery.sessionId, attempts: delivery.attempt, detail }, 'back-channel logout failed');
  }
}
