// Starting the oidc-provider peer (oidc-provider-server.ts) as a child process.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PeerConfig } from './oidc-provider-server.js';
import type { HttpOptions } from './options.js';
import { inTempDir, profileArgs, ServerProcess } from './processes.js';

const PEER_JS = fileURLToPath(new URL('./oidc-provider-server.js', import.meta.url));
const READY_TIMEOUT_MS = 120_000;

export interface PeerServer {
  origin: string;
  /** oidc-provider's default token endpoint path. */
  tokenPath: string;
  refreshTokens: string[];
  process: ServerProcess;
  stop(): Promise<void>;
}

export async function startOidcProvider(config: Omit<PeerConfig, 'tokensFile'>, options: HttpOptions, log: (line: string) => void): Promise<PeerServer> {
  return inTempDir('oidc-provider', async (dir, own) => {
    const full: PeerConfig = { ...config, tokensFile: join(dir, 'tokens.json') };
    const configPath = join(dir, 'config.json');
    await writeFile(configPath, JSON.stringify(full));
    const started = Date.now();
    const proc = ServerProcess.start('oidc-provider', PEER_JS, [configPath], { nodeArgs: profileArgs(options.cpuProf), env: { ...process.env, NODE_ENV: 'production' } });
    own(proc);
    const line = await proc.waitForLine((l) => l.startsWith('PEER-READY '), READY_TIMEOUT_MS);
    const { port } = JSON.parse(line.slice('PEER-READY '.length)) as { port: number };
    const refreshTokens = JSON.parse(await readFile(full.tokensFile, 'utf8')) as string[];
    log(`oidc-provider peer pid ${String(proc.pid)} ready on 127.0.0.1:${port} with ${refreshTokens.length} grants (${config.algorithm}) in ${Date.now() - started} ms`);
    return { origin: `http://127.0.0.1:${port}`, tokenPath: '/token', refreshTokens, process: proc };
  });
}
