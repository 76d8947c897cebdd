// Starting the bare Fastify baseline (bare-server.ts) as a child process, with
// templates taken from real responses of the server under test, so that the
// baseline signs tokens with the same claims, the same algorithm and the same
// count, and answers the same body.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SignatureAlgorithm } from '../../src/realm/model.js';
import type { BareConfig, BareRealmConfig, BareTokens } from './bare-server.js';
import { decodeJwt, isJwt } from './jwt-parts.js';
import type { HttpOptions } from './options.js';
import { inTempDir, profileArgs, ServerProcess } from './processes.js';

const BARE_JS = fileURLToPath(new URL('./bare-server.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;

export interface BareServer {
  origin: string;
  tokens: BareTokens;
  process: ServerProcess;
  stop(): Promise<void>;
}

/** A token response as JSON. */
export type TokenResponse = Record<string, unknown>;

const SIGNATURE_ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA'];

/** The algorithm the server signed this access token with (null: opaque or unsupported). */
export function algorithmOf(response: TokenResponse): SignatureAlgorithm | null {
  const token = response['access_token'];
  if (typeof token !== 'string' || !isJwt(token)) return null;
  const alg = decodeJwt(token).header['alg'];
  return typeof alg === 'string' && SIGNATURE_ALGORITHMS.includes(alg) ? (alg as SignatureAlgorithm) : null;
}

/**
 * The bare server's templates for one realm: from a refresh_token grant
 * response and/or a client_credentials response of the tested server.
 */
export function bareRealm(algorithm: SignatureAlgorithm, refresh: TokenResponse | null, clientCredentials: TokenResponse | null): BareRealmConfig {
  const payload = (r: TokenResponse | null, key: string) => {
    const token = r?.[key];
    return typeof token === 'string' && isJwt(token) ? decodeJwt(token).payload : null;
  };
  const refreshToken = payload(refresh, 'refresh_token');
  // An opaque refresh token (not sessiond or Keycloak): sign one shaped as sessiond's.
  const refreshTemplate = refresh === null ? null : (refreshToken ?? { typ: 'Refresh' });
  return {
    algorithm,
    refreshBody: refresh,
    access: payload(refresh, 'access_token'),
    id: payload(refresh, 'id_token'),
    refresh: refreshTemplate,
    ccBody: clientCredentials,
    ccAccess: payload(clientCredentials, 'access_token'),
  };
}

export async function startBareServer(
  client: string,
  secret: string,
  pool: number,
  realms: Record<string, BareRealmConfig>,
  options: HttpOptions,
  log: (line: string) => void,
): Promise<BareServer> {
  return inTempDir('bare', async (dir, own) => {
    const config: BareConfig = { client, secret, pool, tokensFile: join(dir, 'tokens.json'), realms };
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(config));
    const proc = ServerProcess.start('bare-server', BARE_JS, [configPath], { nodeArgs: profileArgs(options.cpuProf) });
    own(proc);
    const line = await proc.waitForLine((l) => l.startsWith('BARE-READY '), READY_TIMEOUT_MS);
    const { port } = JSON.parse(line.slice('BARE-READY '.length)) as { port: number };
    const tokens = JSON.parse(await readFile(config.tokensFile, 'utf8')) as BareTokens;
    log(`bare Fastify baseline pid ${String(proc.pid)} ready on 127.0.0.1:${port} (${Object.entries(realms).map(([n, r]) => `${n} ${r.algorithm}`).join(', ')})`);
    return { origin: `http://127.0.0.1:${port}`, tokens, process: proc };
  });
}
