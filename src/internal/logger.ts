import { pino } from 'pino';

export type Logger = pino.Logger;

export interface CreateLoggerOptions {
  level?: string;
  /** Pretty, human-readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (tests pass a stream to capture them). */
  destination?: pino.DestinationStream;
}

/** Structured JSON logs (pino); pretty in a terminal. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const base = { base: { service: 'm2pool-payment' }, level, redact: ['*.privateKey', '*.private_key'] };
  if (options.destination) return pino(base, options.destination);
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.LOG_FORMAT !== 'json');
  if (pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } },
    });
  }
  return pino(base);
}
