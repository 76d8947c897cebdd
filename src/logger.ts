// The process logger: pino, as JSON lines on stdout (what log collectors
// read), or as coloured human lines through pino-pretty (`--log-format pretty`)
// for someone watching a terminal. Both carry the same fields.

import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { NodeOptions } from './config/options.js';

export function createLogger(options: Pick<NodeOptions, 'logLevel' | 'logFormat' | 'nodeId'>): Logger {
  const settings = { level: options.logLevel, base: { node: options.nodeId } };
  if (options.logFormat === 'json') return pino(settings);
  // sync: a line is written before the next one is formatted, so a stop or a crash loses none.
  return pino(settings, PinoPretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' }));
}
