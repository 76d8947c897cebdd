// Which Keycloak password-hash algorithm ids sessiond can verify and make:
// the PBKDF2 family (pbkdf2-algorithms.ts) and argon2 (argon2-params.ts).

import { ARGON2_ALGORITHM } from './argon2-params.js';
import { PBKDF2_ALGORITHMS, pbkdf2Algorithm } from './pbkdf2-algorithms.js';

export function isSupportedAlgorithm(id: string): boolean {
  return id === ARGON2_ALGORITHM || pbkdf2Algorithm(id) !== undefined;
}

export function supportedAlgorithmIds(): string {
  return [ARGON2_ALGORITHM, ...PBKDF2_ALGORITHMS.map((a) => a.id)].join(', ');
}
