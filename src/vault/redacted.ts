import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * Holds a secret so that it cannot leak by being printed: String(), template literals,
 * JSON.stringify (and so pino) and util.inspect (console.log, vitest diffs) all show `[redacted]`.
 * The value sits in a #private field, invisible to Object.keys, spreads and structuredClone; only
 * `reveal()` hands it out, which makes every use of the secret easy to find.
 */
export class Redacted<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

export function redact<T>(value: T): Redacted<T> {
  return new Redacted(value);
}
