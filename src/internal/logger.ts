import { pino } from 'pino';
import { redactUrls } from './redact.js';

export type Logger = pino.Logger;

export interface CreateLoggerOptions {
  level?: string;
  /** Pretty, human-readable output; default: when stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (tests pass a stream to capture them). */
  destination?: pino.DestinationStream;
}

/** Structured JSON logs (pino); pretty in a terminal. Errors go under `err`, with their causes. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const base = {
    base: { service: 'm2pool-payment' },
    level,
    redact: ['*.privateKey', '*.private_key'],
    serializers: { err: serializeError },
  };
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

interface SerializedError {
  type: string;
  message: string;
  code?: string;
  details?: string;
  stack?: string;
  /** The cause chain, outermost first: each cause's type and short message. */
  causes?: { type: string; message: string }[];
}

/**
 * An error as a log field: its short message, code and details, the stack, and every cause's short
 * message, so a log line says what failed underneath. Every text is passed through `redactUrls`.
 */
export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { type: typeof err, message: redactUrls(String(err)) };
  const out: SerializedError = { type: err.name, message: redactUrls(shortOf(err)) };
  const { code, details } = err as { code?: unknown; details?: unknown };
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (typeof details === 'string' && details) out.details = redactUrls(details);
  if (err.stack) out.stack = redactUrls(err.stack);
  const causes: { type: string; message: string }[] = [];
  for (let cause = err.cause, depth = 0; cause !== undefined && depth < 8; depth++) {
    causes.push(
      cause instanceof Error
        ? { type: cause.name, message: redactUrls(shortOf(cause)) }
        : { type: typeof cause, message: redactUrls(String(cause)) },
    );
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (causes.length) out.causes = causes;
  return out;
}

function shortOf(err: Error): string {
  const short = (err as { shortMessage?: unknown }).shortMessage;
  return typeof short === 'string' ? short : (err.message.split('\n')[0] ?? err.message);
}
