// Frames on the MessagePorts are msgpackr-packed with records (measured: packing
// plus unpacking a 64-command batch this way runs ~4 M commands/s, ~1.8x a
// structured clone) and copied out of msgpackr's shared pool buffer (posting
// the pooled view would clone the whole pool). They are posted by copy, not
// transferred: measured here, posting a 9 KB frame costs ~20 µs copied and
// ~85 µs transferred (detaching a buffer is the expensive part).
//
// Shared structures. The shapes that cross every hop — frames, the hot
// commands, session views, results, record envelopes — are listed once below
// and known to both sides, so a frame carries a one-byte structure reference
// per object instead of its key names, and the decoder skips reading them
// (measured: a reply of session views decodes ~4x faster). The list is fixed
// (no shape is added at run time: `shouldShareStructure` says no), so every
// packer and unpacker of every thread agrees; any other shape travels as an
// inline record definition, as before, so an unlisted or reordered object
// still round-trips — just without the saving. Append new shapes at the end
// and bump PROTOCOL_VERSION: the position is the wire id.

import { Packr, Unpackr } from 'msgpackr';

const SESSION_VIEW = ['id', 'realm', 'userId', 'username', 'ip', 'authMethod', 'rememberMe', 'started', 'lastSessionRefresh', 'authTime', 'clients', 'notes'];
const CLIENT_SESSION_VIEW = ['client', 'started', 'timestamp', 'scope', 'ssoAuth', 'notes'];

/** Key lists in the order the code builds these objects (order matters to msgpackr). */
export const SHARED_STRUCTURES: readonly (readonly string[])[] = Object.freeze([
  ['kind', 'id', 'commands'],
  ['kind', 'id', 'results', 'errors'],
  ['kind', 'id', 'results', 'errors', 'records'],
  SESSION_VIEW,
  CLIENT_SESSION_VIEW,
  ['session', 'ended'],
  ['session', 'reason'],
  ['session', 'invalid', 'clientsInvalid'],
  ['ok', 'session'],
  ['ok', 'error', 'detached', 'ended'],
  ['op', 'id', 'now'],
  ['op', 'id', 'realm', 'userId', 'username', 'ip', 'authMethod', 'rememberMe', 'now', 'client', 'limits', 'notes'],
  ['client', 'scope'],
  ['op', 'id', 'realm', 'now', 'client', 'touchUser'],
  ['op', 'id', 'realm', 'client', 'now', 'token', 'user', 'notBefore', 'serverStartedAt'],
  ['op', 'id', 'realm', 'client', 'now', 'token', 'user', 'notBefore', 'serverStartedAt', 'offlineAccess'],
  ['jti', 'iat', 'reuseId'],
  ['enabled', 'notBefore'],
  ['realm', 'client'],
  ['op', 'id', 'reason'],
  ['op', 'id', 'client', 'removeIfEmpty'],
  ['detached', 'ended'],
  ['code', 'message', 'detail'],
  ['partition', 'seq', 'viewRevision', 'm'],
  ['op', 'id', 'client', 'scope', 'now'],
  ['op', 'id', 'code', 'now'],
  ['op', 'id', 'code', 'data'],
]);

function options(): ConstructorParameters<typeof Packr>[0] {
  return {
    useRecords: true,
    // A copy per instance: msgpackr annotates the arrays it is given.
    structures: SHARED_STRUCTURES.map((keys) => [...keys]),
    maxSharedStructures: SHARED_STRUCTURES.length,
    shouldShareStructure: () => false,
  };
}

const packr = new Packr(options());
const unpackr = new Unpackr(options());

/** A fresh unpacker that knows the shared structures (what any shard uses). */
export function frameUnpackr(): Unpackr {
  return new Unpackr(options());
}

/** Packs a frame into a standalone Uint8Array (its own, exactly sized buffer). */
export function encodeFrame(frame: unknown): Uint8Array {
  const pooled = packr.pack(frame);
  return Uint8Array.prototype.slice.call(pooled);
}

export function decodeFrame<T>(bytes: Uint8Array): T {
  return unpackr.unpack(bytes) as T;
}
