// Lingering close for refused request bodies. When a body is over the limit,
// Fastify answers 413 and closes the connection while the client may still be
// sending; the unread bytes make the kernel reset the connection and the client
// sees EPIPE/ECONNRESET instead of the answer. Reading and discarding the rest
// (up to a bound, for a bounded time) first lets the answer arrive, as nginx does.

import type { IncomingMessage } from 'node:http';
import { LINGER_BODY_MAX_BYTES, LINGER_MAX_MS } from '../constants.js';

/** Resolves once the request body has ended, or LINGER_BODY_MAX_BYTES more were discarded, or LINGER_MAX_MS passed. */
export function drainRequestBody(raw: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (raw.readableEnded || raw.destroyed) {
      resolve();
      return;
    }
    let discarded = 0;
    const finish = (): void => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('error', finish);
      raw.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      discarded += chunk.length;
      if (discarded > LINGER_BODY_MAX_BYTES) finish();
    };
    const timer = setTimeout(finish, LINGER_MAX_MS);
    raw.on('data', onData);
    raw.on('end', finish);
    raw.on('error', finish);
    raw.on('close', finish);
    raw.resume();
  });
}
