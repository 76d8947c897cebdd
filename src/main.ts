// Process entry: configuration, the engine, the servers, and signal handling.
// Everything else is built by the modules it wires together.

import { pino } from 'pino';
import { ConfigError, helpText, parseOptions, type NodeOptions } from './config/options.js';
import { Engine } from './host/engine.js';
import { buildManagementServer } from './http/management-server.js';
import { Metrics } from './metrics/metrics.js';

const EXIT_CONFIG = 2;
const EXIT_STARTUP = 1;

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

async function main(): Promise<void> {
  const options = readOptions();
  const log = pino({ level: options.logLevel, base: { node: options.nodeId } });
  const metrics = new Metrics();
  const engine = await Engine.start({
    shards: options.shards,
    idleGraceSeconds: options.idleGraceSeconds,
    observer: {
      ...metrics.engineObserver(),
      workerExited: (shard, detail) => log.error({ shard, detail }, 'shard worker exited'),
      workerStarted: (shard, restarts) => {
        if (restarts > 0) log.warn({ shard, restarts }, 'shard worker restarted');
      },
    },
  });
  const management = buildManagementServer({ engine, metrics });
  await management.listen({ port: options.managementPort, host: options.host });
  log.info(
    { shards: options.shards, managementPort: options.managementPort, host: options.host, idleGraceSeconds: options.idleGraceSeconds },
    'sessiond node ready',
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    void (async () => {
      await management.close();
      await engine.close();
      log.info('stopped');
      process.exit(0);
    })().catch((err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`sessiond: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT_STARTUP);
});
