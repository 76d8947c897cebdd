// Server processes of the http-* scenarios: the sessiond node, the bare
// Fastify baseline and the oidc-provider peer each run in a child process,
// so that the load generator and the server never share an event loop (an
// in-process server would be slowed by the generator and vice versa). Nothing
// is pinned: the OS spreads the processes over the cores as it would in use.
//
// Every child is stopped by its scenario (finally blocks); a child still
// alive when the runner exits (a crash between start and stop) is killed by
// the exit hook below, so no run leaves a server behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Lines of output kept per child, for the error message when it fails. */
const OUTPUT_LINES_KEPT = 60;
const STOP_GRACE_MS = 20_000;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export class ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly #lines: string[] = [];
  readonly #waiters = new Set<(line: string) => void>();
  #exitCode: number | null | undefined = undefined;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        live.delete(child);
        this.#exitCode = code;
        resolve(code);
      });
    });
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      // Always drained: a child whose pipe fills up blocks on its next log line.
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          this.#lines.push(line);
          if (this.#lines.length > OUTPUT_LINES_KEPT) this.#lines.shift();
          for (const waiter of this.#waiters) waiter(line);
        }
      });
    }
  }

  /** Starts `node [nodeArgs] script [args]` with piped output. */
  static start(name: string, script: string, args: readonly string[], options: { nodeArgs?: readonly string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {}): ServerProcess {
    installExitHook();
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    live.add(child);
    return new ServerProcess(name, child);
  }

  /** Takes charge of a child spawned elsewhere (a program that is not a Node script: etcd); it must have piped output. */
  static adopt(name: string, child: ChildProcess): ServerProcess {
    installExitHook();
    live.add(child);
    return new ServerProcess(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last lines the child wrote (stdout and stderr interleaved). */
  output(): string {
    return this.#lines.join('\n');
  }

  /** Resolves with the first output line matching `test`; rejects if the child exits or time runs out. */
  waitForLine(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const seen = this.#lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = (line: string): void => {
        if (!test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: not ready after ${timeoutMs} ms; output:\n${this.output()}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      void this.exited.then((code) => {
        done();
        reject(new Error(`${this.name} exited (code ${String(code)}) before it was ready; output:\n${this.output()}`));
      });
    });
  }

  /** SIGTERM (a graceful stop: sessiond saves its sessions, --cpu-prof writes its profile), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, STOP_GRACE_MS);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }
}

/** Stops every given server, even if some stop fails; rethrows the first failure. */
export async function stopAll(processes: readonly ({ stop(): Promise<void> } | null)[]): Promise<void> {
  const results = await Promise.allSettled(processes.map((p) => p?.stop()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

/**
 * `count` distinct ports free on 127.0.0.1 right now (the kernel's picks; a child binds them a
 * moment later): all are held open until every one is known (ports taken one after another may repeat).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<Server>((resolve, reject) => {
        const server = createServer();
        server.unref();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `sessiond-bench-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Runs `start` in a fresh temp directory and gives its result a `stop()` that
 * stops the server `start` handed to `own`, then removes the directory. When
 * `start` fails, the server (if any) and the directory go before the error.
 */
export async function inTempDir<T extends object>(
  prefix: string,
  start: (dir: string, own: (server: { stop(): Promise<void> }) => void) => Promise<T>,
): Promise<T & { stop(): Promise<void> }> {
  const dir = await tempDir(prefix);
  let server = null as { stop(): Promise<void> } | null;
  try {
    const result = await start(dir.path, (s) => {
      server = s;
    });
    const stop = async (): Promise<void> => {
      try {
        await server?.stop();
      } finally {
        await dir.remove();
      }
    };
    return { ...result, stop };
  } catch (err) {
    await server?.stop().catch(() => {});
    await dir.remove();
    throw err;
  }
}

/** Node flags for a server child: a CPU profile into `cpuProf` when asked for. */
export function profileArgs(cpuProf: string | null): string[] {
  return cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', cpuProf] : [];
}

/** Polls `url` until it answers 200 (or `deadline` passes, or `alive()` turns false). */
export async function waitForHttp200(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`process behind ${url} exited`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
