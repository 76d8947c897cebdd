// Goal: error codes are one closed, documented registry; EngineError carries
// code, status and detail; errors cross a thread as plain data and come back
// as the same EngineError, unknown codes included (as ERR_COMMAND_FAILED).
// Also the wire numbering rules of the protocol (ops, mutation kinds, end
// reasons): unique, and retired numbers never reused.

import test from 'ava';
import { ERROR_CODES, EngineError, RETIRED_ERROR_CODES, hasCode, isErrorCode } from '../src/errors.js';
import { END_REASON } from '../src/protocol/actor-messages.js';
import { OP, RETIRED_OPS, opName } from '../src/protocol/actor-ops.js';
import { MUTATION } from '../src/protocol/mutations.js';
import { fromWireError, toWireError } from '../src/protocol/wire-error.js';

test('every code is ERR_-prefixed with an HTTP status and a message; none is retired', (t) => {
  for (const [code, { status, message }] of Object.entries(ERROR_CODES)) {
    t.regex(code, /^ERR_[A-Z_]+$/);
    t.true(Number.isInteger(status) && status >= 400 && status < 600, code);
    t.true(message.length > 0, code);
    t.false(RETIRED_ERROR_CODES.includes(code), `${code} is retired`);
  }
  t.true(Object.isFrozen(ERROR_CODES));
  t.is(ERROR_CODES.ERR_ACTOR_OVERLOADED.status, 503);
  t.is(ERROR_CODES.ERR_SESSION_LIMIT.status, 403);
  t.is(ERROR_CODES.ERR_INVALID_ARGUMENT.status, 400);
  t.is(ERROR_CODES.ERR_REALM_UNKNOWN.status, 404);
});

test('EngineError carries code, status, detail and a default message', (t) => {
  const err = new EngineError('ERR_SESSION_LIMIT', undefined, { limit: 'realm' });
  t.true(err instanceof Error);
  t.is(err.name, 'EngineError');
  t.is(err.code, 'ERR_SESSION_LIMIT');
  t.is(err.status, 403);
  t.is(err.message, ERROR_CODES.ERR_SESSION_LIMIT.message);
  t.deepEqual(err.detail, { limit: 'realm' });
  t.is(new EngineError('ERR_BAD_COMMAND', 'custom').message, 'custom');
});

test('isErrorCode and hasCode match by code, not by class', (t) => {
  t.true(isErrorCode('ERR_ACTOR_RESTARTED'));
  t.false(isErrorCode('ERR_NOPE'));
  t.false(isErrorCode('toString'), 'no prototype keys');
  t.false(isErrorCode(42));
  t.true(hasCode({ code: 'ERR_ENGINE_CLOSED' }, 'ERR_ENGINE_CLOSED'));
  t.true(hasCode(new EngineError('ERR_ENGINE_CLOSED'), 'ERR_ENGINE_CLOSED'));
  t.false(hasCode(new Error('x'), 'ERR_ENGINE_CLOSED'));
  t.false(hasCode(null, 'ERR_ENGINE_CLOSED'));
  t.false(hasCode('ERR_ENGINE_CLOSED', 'ERR_ENGINE_CLOSED'));
});

test('errors cross a thread as { code, message, detail } and are rebuilt by code', (t) => {
  const wire = toWireError(new EngineError('ERR_REALM_UNKNOWN', 'realm x not found', { realm: 'x' }));
  t.deepEqual(wire, { code: 'ERR_REALM_UNKNOWN', message: 'realm x not found', detail: { realm: 'x' } });
  t.deepEqual(structuredClone(wire), wire, 'plain data');
  const back = fromWireError(wire);
  t.true(back instanceof EngineError);
  t.is(back.code, 'ERR_REALM_UNKNOWN');
  t.is(back.status, 404);
  t.is(back.message, 'realm x not found');
  t.deepEqual(back.detail, { realm: 'x' });
  t.false('detail' in toWireError(new EngineError('ERR_BAD_COMMAND')), 'no detail key when there is none');
});

test('a plain exception becomes ERR_COMMAND_FAILED; an unknown wire code too', (t) => {
  t.deepEqual(toWireError(new TypeError('boom')), { code: 'ERR_COMMAND_FAILED', message: 'boom' });
  t.deepEqual(toWireError('text'), { code: 'ERR_COMMAND_FAILED', message: 'text' });
  const back = fromWireError({ code: 'ERR_FROM_THE_FUTURE', message: 'm' });
  t.is(back.code, 'ERR_COMMAND_FAILED');
  t.is(back.message, 'm');
});

test('protocol op numbers are unique, named, and never reuse a retired number', (t) => {
  const codes = Object.values(OP);
  t.is(new Set(codes).size, codes.length);
  for (const [name, code] of Object.entries(OP)) {
    t.is(opName(code) as string, name);
    t.false(RETIRED_OPS.includes(code));
  }
  t.is(opName(9999), 'unknown');
  const kinds = Object.values(MUTATION);
  t.is(new Set(kinds).size, kinds.length);
  const reasons = Object.values(END_REASON);
  t.is(new Set(reasons).size, reasons.length);
  t.true(reasons.every((r) => /^[a-z_]+$/.test(r)));
});
