// The generated realm of a local run, written in Keycloak's export format
// (what `kc.sh export` writes and `--import-realm` reads), so the node imports
// it exactly as it would import a real Keycloak realm.
//
// Every user gets the same pre-hashed PBKDF2-SHA512 credential (one salt):
// hashing once instead of N times keeps a 1,000-user realm at 210,000
// iterations from costing 100 s of start-up, and sharing a salt changes
// nothing about what a login costs the server (it still derives the key).

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignatureAlgorithm } from '../../src/realm/model.js';

/** Keycloak's PBKDF2-SHA512 provider derives a 512-bit key. */
const KEY_BYTES = 64;
/** Session and token lifetimes far beyond any run, so nothing expires mid-measurement. */
const LONG_SECONDS = 86_400;

export interface RealmSpec {
  name: string;
  algorithm: SignatureAlgorithm;
  users: number;
  usersPrefix: string;
  password: string;
  hashIterations: number;
  client: string;
  secret: string;
  /**
   * Refresh-token rotation on, with a reuse limit no run reaches: every
   * refresh then records its chain (a lifecycle change the journal writes)
   * while a pool of K tokens still serves any number of refreshes.
   */
  rotation?: boolean;
  /** SSO session idle timeout in seconds (default: a day, beyond any run). */
  idleSeconds?: number;
}

/** Keycloak's CredentialRepresentation of a pbkdf2-sha512 hash (secretData / credentialData are JSON strings). */
export function pbkdf2Credential(password: string, iterations: number): Record<string, unknown> {
  const salt = randomBytes(16);
  const value = pbkdf2Sync(password, salt, iterations, KEY_BYTES, 'sha512');
  return {
    type: 'password',
    createdDate: Date.now(),
    secretData: JSON.stringify({ value: value.toString('base64'), salt: salt.toString('base64'), additionalParameters: {} }),
    credentialData: JSON.stringify({ hashIterations: iterations, algorithm: 'pbkdf2-sha512', additionalParameters: {} }),
  };
}

export function realmRepresentation(spec: RealmSpec): Record<string, unknown> {
  const credential = pbkdf2Credential(spec.password, spec.hashIterations);
  const users = [];
  for (let i = 0; i < spec.users; i++) {
    users.push({
      username: `${spec.usersPrefix}${i}`,
      enabled: true,
      email: `${spec.usersPrefix}${i}@bench.example`,
      emailVerified: true,
      firstName: 'Bench',
      lastName: `User ${i}`,
      credentials: [credential],
    });
  }
  return {
    realm: spec.name,
    enabled: true,
    defaultSignatureAlgorithm: spec.algorithm,
    // The policy names the hash the credentials carry, so nothing asks for a re-hash.
    passwordPolicy: `hashAlgorithm(pbkdf2-sha512) and hashIterations(${spec.hashIterations})`,
    ssoSessionIdleTimeout: spec.idleSeconds ?? LONG_SECONDS,
    ssoSessionMaxLifespan: LONG_SECONDS,
    accessTokenLifespan: LONG_SECONDS / 24,
    // Refresh tokens stay reusable, so a pool of K tokens serves any number of refreshes.
    revokeRefreshToken: spec.rotation === true,
    ...(spec.rotation === true ? { refreshTokenMaxReuse: 2_147_483_647 } : {}),
    clients: [
      {
        clientId: spec.client,
        enabled: true,
        publicClient: false,
        secret: spec.secret,
        standardFlowEnabled: false,
        directAccessGrantsEnabled: true,
        serviceAccountsEnabled: true,
      },
    ],
    users,
  };
}

/** Writes `<dir>/<name>-realm.json`. */
export async function writeRealmFile(dir: string, spec: RealmSpec): Promise<string> {
  const path = join(dir, `${spec.name}-realm.json`);
  await writeFile(path, JSON.stringify(realmRepresentation(spec)));
  return path;
}
