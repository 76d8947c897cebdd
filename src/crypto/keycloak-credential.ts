// Keycloak's export form of a password credential, to and from sessiond's
// PasswordCredential record (src/realm/model.ts). The wire shape is
// Keycloak's CredentialRepresentation, whose two payloads are JSON *strings*
// (Jackson-serialised PasswordSecretData and PasswordCredentialData):
//
//   { "id": "…", "type": "password", "userLabel": "My password", "createdDate": 1700000000000,
//     "secretData": "{\"value\":\"<base64 key>\",\"salt\":\"<base64 salt>\",\"additionalParameters\":{}}",
//     "credentialData": "{\"hashIterations\":210000,\"algorithm\":\"pbkdf2-sha512\",\"additionalParameters\":{}}" }
//
// Reading is strict where Keycloak would fail later (at login) and lenient
// where Keycloak is lenient: the salt/value base64 may carry MIME line breaks
// or omit padding, `additionalParameters` (written) and `algorithmData` (the
// name Keycloak's @JsonCreator reads) are ignored for PBKDF2, which uses
// neither; an argon2 hash keeps its parameters from credentialData's
// additionalParameters (argon2-params.ts). A salt of "__SALT__" (Keycloak's placeholder for "no
// salt") is refused: PBEKeySpec rejects a null or empty salt, so such a
// credential could never verify.
//
// Errors never quote secretData: JSON.parse's own message includes a slice
// of its input, so it is dropped and replaced by a fixed reason.

import { randomUUID } from 'node:crypto';
import { EngineError } from '../errors.js';
import type { PasswordCredential } from '../realm/model.js';
import { ARGON2_ALGORITHM, ARGON2_ITERATIONS_MAX, argon2ParamsFromKeycloak, argon2ParamsToKeycloak } from './argon2-params.js';
import { isSupportedAlgorithm, supportedAlgorithmIds } from './hash-algorithms.js';
import { PBKDF2_ITERATIONS_MAX } from './pbkdf2-algorithms.js';

export const PASSWORD_CREDENTIAL_TYPE = 'password';

/** Keycloak's CredentialRepresentation for a hashed password, as exports write it. */
export interface KeycloakPasswordCredentialRepresentation {
  id: string;
  type: 'password';
  userLabel?: string;
  createdDate: number;
  secretData: string;
  credentialData: string;
}

/**
 * A credential that cannot be read. `path` names the field (e.g.
 * `users[3].credentials[0].secretData`), `reason` says what is wrong; neither
 * ever holds secret material. Matched at boundaries by code (ERR_INVALID_ARGUMENT).
 */
export class CredentialFormatError extends EngineError {
  readonly path: string;
  readonly reason: string;

  constructor(path: string, reason: string) {
    super('ERR_INVALID_ARGUMENT', `${path}: ${reason}`, { path, reason });
    this.name = 'CredentialFormatError';
    this.path = path;
    this.reason = reason;
  }
}

// Standard alphabet (java.util.Base64 / Keycloak's Base64 util), padding only at the end.
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const MIME_WHITESPACE = /[\r\n\t ]/g;

/** Decodes Keycloak's base64; null when it is not base64 or holds no bytes. */
export function decodeKeycloakBase64(text: string): Buffer | null {
  const compact = text.replace(MIME_WHITESPACE, '');
  if (!BASE64_TEXT.test(compact) || compact.length % 4 === 1) return null;
  if (compact.endsWith('=') && compact.length % 4 !== 0) return null;
  const bytes = Buffer.from(compact, 'base64');
  return bytes.length > 0 ? bytes : null;
}

/** What a value is, without saying what it holds. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonMember(rep: Record<string, unknown>, key: string, path: string): Record<string, unknown> {
  const fieldPath = `${path}.${key}`;
  const text = rep[key];
  if (text === undefined || text === null) throw new CredentialFormatError(fieldPath, 'is missing');
  if (typeof text !== 'string') throw new CredentialFormatError(fieldPath, `expected a JSON string, got ${kindOf(text)}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CredentialFormatError(fieldPath, 'is not valid JSON');
  }
  if (!isRecord(value)) throw new CredentialFormatError(fieldPath, `expected a JSON object, got ${kindOf(value)}`);
  return value;
}

function base64Member(data: Record<string, unknown>, key: string, fieldPath: string): string {
  const text = data[key];
  if (text === undefined || text === null) throw new CredentialFormatError(fieldPath, `"${key}" is missing`);
  if (typeof text !== 'string') throw new CredentialFormatError(fieldPath, `"${key}" must be a base64 string, got ${kindOf(text)}`);
  if (key === 'salt' && text === '__SALT__') throw new CredentialFormatError(fieldPath, '"salt" is the "__SALT__" placeholder: the hash has no salt');
  const bytes = decodeKeycloakBase64(text);
  if (bytes === null) throw new CredentialFormatError(fieldPath, `"${key}" is not non-empty standard base64`);
  // Stored canonically, so equal credentials compare equal and exports are stable.
  return bytes.toString('base64');
}

/** Checks an iteration count: a positive Java int for PBKDF2 (as PBEKeySpec), at most ARGON2_ITERATIONS_MAX for argon2. */
export function checkIterations(value: unknown, algorithm = ''): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value)) return `must be an integer, got ${typeof value === 'number' ? String(value) : kindOf(value)}`;
  const max = algorithm === ARGON2_ALGORITHM ? ARGON2_ITERATIONS_MAX : PBKDF2_ITERATIONS_MAX;
  if (value < 1 || value > max) return `must be from 1 to ${max}, got ${value}`;
  return null;
}

/**
 * Reads one entry of a Keycloak user's `credentials` array (realm export,
 * partial import, admin API) into a PasswordCredential. `path` is where the
 * entry sits in the input, for error messages; `nowMs` stamps a credential
 * that arrives without a createdDate.
 */
export function credentialFromKeycloak(rep: unknown, path: string, nowMs: () => number = Date.now): PasswordCredential {
  if (!isRecord(rep)) throw new CredentialFormatError(path, `expected an object, got ${kindOf(rep)}`);

  if (rep['type'] !== PASSWORD_CREDENTIAL_TYPE) {
    const type = rep['type'];
    throw new CredentialFormatError(`${path}.type`, `expected "password", got ${typeof type === 'string' ? JSON.stringify(type) : kindOf(type)}`);
  }
  if (rep['secretData'] === undefined && typeof rep['value'] === 'string') {
    // A plain-text password (admin "reset password" shape): it must be hashed
    // with the realm's policy, which is the importer's job, not a format.
    throw new CredentialFormatError(path, 'holds a plain-text "value", not a hash; hash it with the realm password policy instead');
  }

  const id = rep['id'];
  if (id !== undefined && id !== null && (typeof id !== 'string' || id.length === 0)) {
    throw new CredentialFormatError(`${path}.id`, `expected a non-empty string, got ${kindOf(id)}`);
  }
  const userLabel = rep['userLabel'];
  if (userLabel !== undefined && userLabel !== null && typeof userLabel !== 'string') {
    throw new CredentialFormatError(`${path}.userLabel`, `expected a string, got ${kindOf(userLabel)}`);
  }
  const createdDate = rep['createdDate'];
  if (createdDate !== undefined && createdDate !== null && (typeof createdDate !== 'number' || !Number.isSafeInteger(createdDate) || createdDate < 0)) {
    throw new CredentialFormatError(`${path}.createdDate`, 'expected epoch milliseconds (a non-negative integer)');
  }

  const secretPath = `${path}.secretData`;
  const secret = jsonMember(rep, 'secretData', path);
  const salt = base64Member(secret, 'salt', secretPath);
  const hash = base64Member(secret, 'value', secretPath);

  const dataPath = `${path}.credentialData`;
  const data = jsonMember(rep, 'credentialData', path);
  const algorithm = data['algorithm'];
  if (typeof algorithm !== 'string') {
    throw new CredentialFormatError(dataPath, `"algorithm" must be a string, got ${kindOf(algorithm)}`);
  }
  if (!isSupportedAlgorithm(algorithm)) {
    throw new CredentialFormatError(dataPath, `unsupported password hashing algorithm ${JSON.stringify(algorithm)} (supported: ${supportedAlgorithmIds()})`);
  }
  const iterations = data['hashIterations'];
  const badIterations = checkIterations(iterations, algorithm);
  if (badIterations !== null) throw new CredentialFormatError(dataPath, `"hashIterations" ${badIterations}`);
  const argon2 = algorithm === ARGON2_ALGORITHM ? { argon2: argon2ParamsFromKeycloak(data['additionalParameters'], dataPath) } : {};

  return {
    id: typeof id === 'string' ? id : randomUUID(),
    type: 'password',
    algorithm,
    iterations: iterations as number,
    salt,
    hash,
    // Keycloak stamps the current time on a credential created without one.
    createdDate: typeof createdDate === 'number' ? createdDate : nowMs(),
    userLabel: typeof userLabel === 'string' ? userLabel : null,
    ...argon2,
  };
}

/** The inverse, in Keycloak's member order, for exports and the admin API. */
export function credentialToKeycloak(c: PasswordCredential): KeycloakPasswordCredentialRepresentation {
  const rep: KeycloakPasswordCredentialRepresentation = {
    id: c.id,
    type: 'password',
    createdDate: c.createdDate,
    secretData: JSON.stringify({ value: c.hash, salt: c.salt, additionalParameters: {} }),
    credentialData: JSON.stringify({ hashIterations: c.iterations, algorithm: c.algorithm, additionalParameters: c.argon2 === undefined ? {} : argon2ParamsToKeycloak(c.argon2) }),
  };
  // Keycloak's serializer leaves out nulls; keep its member order (id, type, userLabel, createdDate, ...).
  if (c.userLabel === null) return rep;
  return { id: rep.id, type: rep.type, userLabel: c.userLabel, createdDate: rep.createdDate, secretData: rep.secretData, credentialData: rep.credentialData };
}
