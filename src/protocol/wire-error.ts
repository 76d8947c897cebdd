// Errors as they cross a thread (and later a node): plain { code, message,
// detail }, rebuilt into an EngineError by code on the receiving side.

import { EngineError, isErrorCode, type ErrorCode } from '../errors.js';

export interface WireError {
  code: string;
  message: string;
  detail?: unknown;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof EngineError) {
    return err.detail === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, detail: err.detail };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'ERR_COMMAND_FAILED', message };
}

export function fromWireError(wire: WireError): EngineError {
  const code: ErrorCode = isErrorCode(wire.code) ? wire.code : 'ERR_COMMAND_FAILED';
  return new EngineError(code, wire.message, wire.detail);
}
