// The StaticPool task file: one per pool thread, loaded from its compiled
// path (dist/src/crypto/pbkdf2-task.js) by PasswordHasher. It only wires the
// port to pbkdf2Sync; all validation happens on the main thread before a
// request is sent, so anything that still fails here is a bug or a resource
// problem, answered with a fixed message (never the input: it holds a password).
//
// pbkdf2Sync, not the async crypto.pbkdf2: this thread exists to do the hash,
// so blocking it is the point, and the async form would hand the work on to
// libuv's shared 4-thread pool (also used by fs and dns) from here.

import { pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { javaPasswordBytes } from './java-utf8.js';
import type { Pbkdf2Request, Pbkdf2Response } from './pbkdf2-protocol.js';

function answer(request: Pbkdf2Request): Pbkdf2Response {
  switch (request.op) {
    case 'ping':
      return { ok: true, op: 'ping' };
    case 'derive': {
      const key = pbkdf2Sync(javaPasswordBytes(request.password), request.salt, request.iterations, request.keyBytes, request.digest);
      return { ok: true, op: 'derive', key };
    }
    case 'verify': {
      const expected = request.expected;
      const key = pbkdf2Sync(javaPasswordBytes(request.password), request.salt, request.iterations, expected.length, request.digest);
      return { ok: true, op: 'verify', match: timingSafeEqual(key, expected) };
    }
    default:
      return { ok: false, error: 'unknown pbkdf2 pool request' };
  }
}

const port = parentPort;
if (port === null) throw new Error('pbkdf2-task.js must run in a worker thread');

port.on('message', (request: Pbkdf2Request) => {
  let response: Pbkdf2Response;
  try {
    response = answer(request);
  } catch (err) {
    // Node's pbkdf2 errors name the argument, never its value; keep only the code.
    const code = (err as { code?: unknown }).code;
    response = { ok: false, error: `pbkdf2 failed${typeof code === 'string' ? ` (${code})` : ''}` };
  }
  port.postMessage(response);
});
