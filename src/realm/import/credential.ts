// A hashed `password` credential of a realm export, read with the shared
// reader (crypto/keycloak-credential.ts: secretData / credentialData JSON
// strings), plus the two things an import needs on top of it:
//
// - Before Keycloak 7 the hash sat in the representation itself
//   (`hashedSaltedValue`, `salt`, `hashIterations`, `algorithm`);
//   RepresentationToModel.convertDeprecatedCredentialsFormat still accepts
//   that, so it is converted to the current shape first, as Keycloak does.
// - A well-formed hash made by an algorithm sessiond does not implement
//   (a custom provider's; PBKDF2 and argon2 are implemented) is `unsupported`, not an error: one such user must not stop a
//   100 k-user import; the importer notes it and the user must reset the
//   password. Malformed credentials still throw CredentialFormatError.

import { credentialFromKeycloak, CredentialFormatError } from '../../crypto/keycloak-credential.js';
import { isSupportedAlgorithm } from '../../crypto/hash-algorithms.js';
import type { PasswordCredential } from '../model.js';

export { CredentialFormatError } from '../../crypto/keycloak-credential.js';

export type ParsedPasswordCredential =
  | { kind: 'password'; credential: PasswordCredential }
  | { kind: 'unsupported'; algorithm: string };

/** `rep` at JSON path `path`; `now` (epoch ms) dates a credential without createdDate. */
export function passwordCredentialFromExport(rep: Record<string, unknown>, path: string, now: number): ParsedPasswordCredential {
  const input = rep['secretData'] == null && rep['credentialData'] == null && rep['hashedSaltedValue'] != null ? fromDeprecated(rep) : rep;
  try {
    return { kind: 'password', credential: credentialFromKeycloak(input, path, () => now) };
  } catch (err) {
    // Only on the error path: was it a sound hash of an algorithm we lack?
    if (err instanceof CredentialFormatError && err.path === `${path}.credentialData`) {
      const algorithm = algorithmOf(input['credentialData']);
      if (algorithm !== null && !isSupportedAlgorithm(algorithm)) return { kind: 'unsupported', algorithm };
    }
    if (err instanceof CredentialFormatError && input !== rep) {
      throw new CredentialFormatError(err.path, `${err.reason} (read from the pre-Keycloak-7 fields hashedSaltedValue, salt, hashIterations, algorithm)`);
    }
    throw err;
  }
}

function fromDeprecated(rep: Record<string, unknown>): Record<string, unknown> {
  const { hashedSaltedValue, salt, hashIterations, algorithm, ...rest } = rep;
  return {
    ...rest,
    secretData: JSON.stringify({ value: hashedSaltedValue, salt }),
    credentialData: JSON.stringify({ hashIterations, algorithm }),
  };
}

function algorithmOf(credentialData: unknown): string | null {
  if (typeof credentialData !== 'string') return null;
  try {
    const data: unknown = JSON.parse(credentialData);
    const algorithm = typeof data === 'object' && data !== null ? (data as { algorithm?: unknown }).algorithm : undefined;
    return typeof algorithm === 'string' && algorithm !== '' ? algorithm : null;
  } catch {
    return null;
  }
}
