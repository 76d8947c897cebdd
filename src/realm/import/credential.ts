// Keycloak's stored password credential (CredentialRepresentation of type
// `password`) as a PasswordCredential. An export carries two JSON documents
// encoded as strings:
//
//   secretData     {"value":"<base64 key>","salt":"<base64 salt>","additionalParameters":{}}
//   credentialData {"hashIterations":210000,"algorithm":"pbkdf2-sha512","additionalParameters":{}}
//
// (PasswordSecretData / PasswordCredentialData). Before Keycloak 7 the same
// facts sat in the representation itself (`hashedSaltedValue`, `salt`,
// `hashIterations`, `algorithm`); RepresentationToModel.convertDeprecatedCredentialsFormat
// still accepts that, and so does this.
//
// A hash made by an algorithm sessiond does not implement (argon2, Keycloak's
// default since 25 outside FIPS mode, or a custom provider) is well-formed
// but unusable: it is reported as `unsupported`, not as an error, so the
// caller can import the user and say that the password must be reset.

import { randomUUID } from 'node:crypto';
import { pbkdf2Algorithm, PBKDF2_ITERATIONS_MAX } from '../../crypto/pbkdf2-algorithms.js';
import type { PasswordCredential } from '../model.js';

/** A malformed credential: `field` is the representation's key at fault, e.g. `secretData`. */
export class CredentialFormatError extends Error {
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'CredentialFormatError';
    this.field = field;
    this.reason = reason;
  }
}

export type ParsedPasswordCredential =
  | { kind: 'password'; credential: PasswordCredential }
  | { kind: 'unsupported'; algorithm: string };

// Standard alphabet with padding, as java.util.Base64.getEncoder() writes it.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEmbedded(rep: Record<string, unknown>, field: string): Record<string, unknown> {
  const raw = rep[field];
  // Keycloak's representation types these as strings; a hand-written file
  // may inline the object, which Jackson would refuse, but it is unambiguous.
  if (isObject(raw)) return raw;
  if (typeof raw !== 'string') throw new CredentialFormatError(field, 'must be a JSON string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new CredentialFormatError(field, `is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new CredentialFormatError(field, 'must hold a JSON object');
  return parsed;
}

function base64(value: unknown, field: string, name: string): string {
  if (typeof value !== 'string' || value === '') throw new CredentialFormatError(field, `${name} is missing`);
  if (!BASE64.test(value)) throw new CredentialFormatError(field, `${name} is not standard base64`);
  return value;
}

function iterations(value: unknown, field: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > PBKDF2_ITERATIONS_MAX) {
    throw new CredentialFormatError(field, 'hashIterations must be a positive 32-bit integer');
  }
  return n;
}

/**
 * Parses a hashed `password` credential. `now` (epoch ms) stands in for a
 * missing createdDate. Throws CredentialFormatError on malformed input.
 */
export function passwordCredentialFromKeycloak(rep: Record<string, unknown>, now: number): ParsedPasswordCredential {
  let algorithmValue: unknown;
  let iterationsValue: unknown;
  let hash: string;
  let salt: string;
  let iterationsField: string;
  let algorithmField: string;

  if (rep['secretData'] != null || rep['credentialData'] != null) {
    const secret = parseEmbedded(rep, 'secretData');
    const data = parseEmbedded(rep, 'credentialData');
    hash = base64(secret['value'], 'secretData', 'value');
    salt = base64(secret['salt'], 'secretData', 'salt');
    algorithmValue = data['algorithm'];
    iterationsValue = data['hashIterations'];
    iterationsField = algorithmField = 'credentialData';
  } else if (rep['hashedSaltedValue'] != null) {
    hash = base64(rep['hashedSaltedValue'], 'hashedSaltedValue', 'hashedSaltedValue');
    salt = base64(rep['salt'], 'salt', 'salt');
    algorithmValue = rep['algorithm'];
    iterationsValue = rep['hashIterations'];
    algorithmField = 'algorithm';
    iterationsField = 'hashIterations';
  } else {
    throw new CredentialFormatError('secretData', 'a password credential needs value, or secretData and credentialData');
  }

  if (typeof algorithmValue !== 'string' || algorithmValue === '') {
    throw new CredentialFormatError(algorithmField, 'algorithm is missing');
  }
  const spec = pbkdf2Algorithm(algorithmValue);
  if (spec === undefined) return { kind: 'unsupported', algorithm: algorithmValue };

  const id = rep['id'];
  const createdDate = rep['createdDate'];
  const userLabel = rep['userLabel'];
  if (id != null && typeof id !== 'string') throw new CredentialFormatError('id', 'must be a string');
  if (createdDate != null && (typeof createdDate !== 'number' || !Number.isSafeInteger(createdDate))) {
    throw new CredentialFormatError('createdDate', 'must be an integer (epoch ms)');
  }
  if (userLabel != null && typeof userLabel !== 'string') throw new CredentialFormatError('userLabel', 'must be a string');

  return {
    kind: 'password',
    credential: {
      id: typeof id === 'string' && id !== '' ? id : randomUUID(),
      type: 'password',
      algorithm: spec.id,
      iterations: iterations(iterationsValue, iterationsField),
      salt,
      hash,
      createdDate: typeof createdDate === 'number' ? createdDate : now,
      userLabel: typeof userLabel === 'string' ? userLabel : null,
    },
  };
}
