/**
 * Small collecting validators for config.json: each records a `field: found X, expected Y` line and
 * returns undefined instead of throwing, so every problem is reported at once. Hand-written rather
 * than a schema library, because the exact wording of those lines is the operator's interface.
 */

export type Json = Record<string, unknown>;

/** Longer found-values are cut: the line must stay readable. */
const MAX_FOUND_CHARS = 60;

/** `amqp://user:secret@host` → `amqp://user:***@host`: problems are printed and logged. */
function hideUrlPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/**
 * A node URL cut to its scheme and host: providers put API keys in the path, the query or the user part
 * (as src/internal/redact.ts does for logs, but also for text that is not a valid URL, which is exactly
 * what a config problem shows). `https://x.example/v3/KEY` → `https://x.example/[redacted]`.
 */
export function redactUrlText(text: string): string {
  try {
    const url = new URL(text);
    if (url.host !== '') {
      const hidden =
        url.username ||
        url.password ||
        url.search ||
        url.hash ||
        (url.pathname !== '' && url.pathname !== '/');
      return `${url.protocol}//${url.host}${hidden ? '/[redacted]' : ''}`;
    }
  } catch {
    // not a URL: cut by hand below
  }
  const match = /^([a-z][a-z0-9+.-]*:\/\/)?([^/?#]*)/i.exec(text);
  const scheme = match?.[1] ?? '';
  const authority = match?.[2] ?? '';
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  const kept = `${scheme}${host}`;
  return kept === text ? text : `${kept}/[redacted]`;
}

function describeFound(value: unknown, secret: boolean, redact: boolean): string {
  if (value === undefined) return 'nothing';
  if (secret) {
    if (value === null) return 'null';
    const kind = Array.isArray(value) ? 'list' : typeof value;
    return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
  }
  const text = redact
    ? JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redactUrlText(v) : v))
    : typeof value === 'string'
      ? JSON.stringify(hideUrlPassword(value))
      : JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > MAX_FOUND_CHARS ? `${text.slice(0, MAX_FOUND_CHARS)}…` : text;
}

export interface Checker {
  readonly problems: string[];
  /**
   * Records a problem. `secret` prints only the kind of the value (passwords); `redact` cuts every
   * string in it to a URL's scheme and host (node URLs, whose path or query may hold an API key).
   */
  problem(path: string, value: unknown, expected: string, options?: FoundOptions): undefined;
  object(path: string, value: unknown): Json | undefined;
  string(
    path: string,
    value: unknown,
    options?: { secret?: boolean; allowEmpty?: boolean },
  ): string | undefined;
  integer(path: string, value: unknown, min: number, max: number, expected: string): number | undefined;
  /** `redact`: a node URL, shown only as scheme and host in a problem. */
  url(
    path: string,
    value: unknown,
    schemes: readonly string[],
    options?: { redact?: boolean },
  ): string | undefined;
}

export interface FoundOptions {
  secret?: boolean;
  redact?: boolean;
}

export function createChecker(): Checker {
  const problems: string[] = [];
  const checker: Checker = {
    problems,
    problem(path, value, expected, options = {}) {
      const found = describeFound(value, options.secret === true, options.redact === true);
      problems.push(`${path}: found ${found}, expected ${expected}`);
      return undefined;
    },
    object(path, value) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
      return checker.problem(path, value, 'an object');
    },
    string(path, value, options = {}) {
      if (typeof value === 'string' && (options.allowEmpty || value !== '')) return value;
      const secret = options.secret === true;
      return checker.problem(path, value, options.allowEmpty ? 'a string' : 'a non-empty string', { secret });
    },
    integer(path, value, min, max, expected) {
      if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
      return checker.problem(path, value, expected);
    },
    url(path, value, schemes, options = {}) {
      const expected = `${schemes.map((s) => `${s}://`).join(' or ')} URL`;
      const article = /^[aeiou]/.test(expected) ? 'an' : 'a';
      if (typeof value === 'string') {
        try {
          if (schemes.includes(new URL(value).protocol.slice(0, -1))) return value;
        } catch {
          // reported below
        }
      }
      return checker.problem(path, value, `${article} ${expected}`, { redact: options.redact === true });
    },
  };
  return checker;
}

/** A field that is absent or null counts as not given, so its default applies. */
export function given(obj: Json, key: string): boolean {
  return Object.hasOwn(obj, key) && obj[key] !== null && obj[key] !== undefined;
}

/** The field's value, ignoring inherited properties such as `constructor`. */
export function field(obj: Json, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
