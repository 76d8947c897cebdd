// A real sessiond process for tests: spawn `node dist/src/main.js` with free
// ports, read its JSON log lines, signal it.

import { spawn, type ChildProcess } from 'node:child_process';
// `count` distinct free ports: the benches' helper (both start real processes on loopback ports).
import { freePorts } from '../../bench/http/processes.js';

export { freePorts };

const MAIN = new URL('../../src/main.js', import.meta.url);
const STARTUP_TIMEOUT_MS = 30_000;

/** The environment without any SESSIOND_ variable of the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SESSIOND_')) env[k] = v;
  return { ...env, ...extra };
}

/** A port nothing listens on right now (found by listening on port 0). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** What to start: `node dist/src/main.js` by default, or another command (e.g. `npm start`). */
export interface Command {
  file: string;
  args: string[];
  cwd?: string;
  /** Its own process group (to signal the whole group). */
  detached?: boolean;
}

/** Starts the command (default: `node dist/src/main.js`) with these arguments. */
export function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), command: Command = { file: process.execPath, args: [MAIN.pathname] }): Run {
  const child = spawn(command.file, [...command.args, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(command.cwd !== undefined ? { cwd: command.cwd } : {}),
    detached: command.detached ?? false,
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits for a JSON log line with this msg (the process logs with pino), or for the process to end. */
export async function logLine(r: Run, msg: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let exited = false;
  void r.exit.then(() => (exited = true));
  for (;;) {
    for (const line of r.stdout().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry['msg'] === msg) return entry;
    }
    if (exited) throw new Error(`process ended before logging "${msg}"; stderr: ${r.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no "${msg}" log line within ${STARTUP_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
