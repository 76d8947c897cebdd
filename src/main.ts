// Process entry: options, the node, its servers, and signal handling. The
// node itself is assembled in node.ts.

import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError, helpText, parseOptions, type NodeOptions } from './config/options.js';
import { BOOTSTRAP_ADMIN_PASSWORD_DEFAULT, BOOTSTRAP_ADMIN_USERNAME_DEFAULT, SessiondNode } from './node.js';
import { createLogger } from './logger.js';
import { SchemaError } from './store/lmdb-env.js';

const EXIT_CONFIG = 2;
/** A second stop signal forces the exit only this long after the first. */
const FORCE_EXIT_AFTER_MS = 2000;
const EXIT_STARTUP = 1;
/** Exit code after an uncaught exception or unhandled rejection. */
const EXIT_FATAL = 70;
/** How long the best-effort snapshot after a fatal error may take before the process exits anyway. */
const FATAL_SNAPSHOT_TIMEOUT_MS = 10_000;

function readOptions(): NodeOptions {
  try {
    const parsed = parseOptions(process.argv.slice(2), process.env);
    if (parsed.help) {
      process.stdout.write(`${helpText()}\n`);
      process.exit(0);
    }
    return parsed.options;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sessiond: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

/** `http://host:port` of a listening server; an any-address bind is shown as 127.0.0.1. */
function urlOf(host: string, address: AddressInfo | string | null): string | null {
  if (address === null || typeof address === 'string') return address;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
}

async function main(): Promise<void> {
  const options = readOptions();
  const log = createLogger(options);
  let node: SessiondNode;
  try {
    node = await SessiondNode.start({
      options,
      log,
      bootstrapAdmin: {
        username: process.env['SESSIOND_BOOTSTRAP_ADMIN_USERNAME'] || BOOTSTRAP_ADMIN_USERNAME_DEFAULT,
        password: process.env['SESSIOND_BOOTSTRAP_ADMIN_PASSWORD'] || BOOTSTRAP_ADMIN_PASSWORD_DEFAULT,
      },
    });
  } catch (err) {
    // Refusals the operator must act on (a newer data directory, an invalid realm file) are one line.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sessiond: ${message}\n`);
    process.exit(err instanceof SchemaError || err instanceof ConfigError || (err as { code?: string }).code === 'ERR_REALM_IMPORT' ? EXIT_CONFIG : EXIT_STARTUP);
  }
  // Handlers first: a supervisor that stops the node the moment it reads "ready" must reach
  // them, not the default action of SIGTERM (which ends the process without saving sessions).
  stopOnSignals(log, node);
  reloadOnHangup(log, node);
  exitOnFatalErrors(log, node);
  await node.listen();
  if (node.stopping) return;
  log.info(
    {
      shards: options.shards,
      httpPort: options.httpPort,
      managementPort: options.managementPort,
      host: options.host,
      dataDir: options.dataDir,
      // Where to point a browser or curl (the bound ports, also when 0 asked for any free one).
      url: urlOf(options.host, node.server.server.address()),
      managementUrl: urlOf(options.host, node.management.server.address()),
    },
    'sessiond node ready',
  );
  if (options.logFormat === 'json' && process.stdout.isTTY === true) {
    log.info('reading this in a terminal? npm start -- --log-format pretty prints readable lines');
  }
}

/** SIGTERM and SIGINT stop the node gracefully; a repeat well after the first forces the exit. */
function stopOnSignals(log: Logger, node: SessiondNode): void {
  let stoppingSince = 0;
  const stop = (signal: string): void => {
    if (stoppingSince > 0) {
      // `npm start` and `timeout` pass a signal on to the node while the shell sends it to the
      // whole process group too: a repeat within a moment is the same request. A later one
      // means the operator wants out now, snapshot or not.
      if (Date.now() - stoppingSince < FORCE_EXIT_AFTER_MS) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    node.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** SIGHUP reads the cluster's certificates again at once (they are also checked every minute). */
function reloadOnHangup(log: Logger, node: SessiondNode): void {
  process.on('SIGHUP', () => {
    // The cluster member logs what the reload did.
    if (node.reloadCertificates() === null) log.info({ signal: 'SIGHUP' }, 'nothing to reload: no --grpc-tls-* or --cluster-etcd-ca certificates');
  });
}

/**
 * An uncaught exception or unhandled rejection leaves the process in an unknown
 * state: it is logged, the online sessions are saved if the node still can
 * (bounded in time), and the process exits non-zero so a supervisor restarts it.
 */
function exitOnFatalErrors(log: Logger, node: SessiondNode): void {
  let fatal = false;
  const die = (kind: string, err: unknown): void => {
    log.fatal({ err, kind }, 'fatal error: saving online sessions and exiting');
    if (fatal) return;
    fatal = true;
    const timer = setTimeout(() => process.exit(EXIT_FATAL), FATAL_SNAPSHOT_TIMEOUT_MS);
    timer.unref();
    node.stop().then(
      () => process.exit(EXIT_FATAL),
      (stopErr: unknown) => {
        log.error({ err: stopErr }, 'shutdown after a fatal error failed');
        process.exit(EXIT_FATAL);
      },
    );
  };
  process.on('uncaughtException', (err) => die('uncaughtException', err));
  process.on('unhandledRejection', (reason) => die('unhandledRejection', reason));
}

main().catch((err: unknown) => {
  process.stderr.write(`sessiond: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_STARTUP);
});
