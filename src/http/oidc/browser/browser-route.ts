// Browser routes answer with HTML, never with the OAuth JSON of the public
// server's error handler: a person is looking at the response. This wraps a
// handler so that the conditions it raises end as error pages; anything
// unexpected still goes to the server's handler (a logged 500).

import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isErrorCode } from '../../../errors.js';
import type { RealmRecord } from '../../../realm/model.js';
import type { FacadeContext } from '../../context.js';
import { BROWSER_MESSAGE, ErrorPageError } from './browser-errors.js';
import { sendErrorPage } from './html-page.js';
import { realmDisplayName } from './login-page.js';

export type BrowserHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/** The realm of `/realms/{realm}/...` for a browser: an error page (404) when it does not exist or is disabled. */
export function browserRealm(ctx: FacadeContext, request: FastifyRequest): RealmRecord {
  const name = (request.params as { realm?: string }).realm ?? '';
  const realm = ctx.store.realmByName(name);
  if (realm === undefined || !realm.enabled) throw new ErrorPageError(404, BROWSER_MESSAGE.realmNotFound);
  return realm;
}

function realmLabel(ctx: FacadeContext, request: FastifyRequest): string {
  const name = (request.params as { realm?: string }).realm ?? '';
  const realm = ctx.store.realmByName(name);
  return realm !== undefined && realm.enabled ? realmDisplayName(realm) : 'sessiond';
}

/** Engine conditions that mean "try again shortly" (overloaded, restarting shard). */
function unavailable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return isErrorCode(code) && ERROR_CODES[code].status === 503;
}

export function browserRoute(ctx: FacadeContext, handler: BrowserHandler): BrowserHandler {
  return async (request, reply) => {
    try {
      return await handler(request, reply);
    } catch (err) {
      if (err instanceof ErrorPageError) return sendErrorPage(reply, err.status, realmLabel(ctx, request), err.message);
      if (unavailable(err)) {
        void reply.header('retry-after', '1');
        return sendErrorPage(reply, 503, realmLabel(ctx, request), BROWSER_MESSAGE.unavailable);
      }
      throw err;
    }
  };
}
