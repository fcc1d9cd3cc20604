import { isLosslessNumber, LosslessNumber, parse } from 'lossless-json';

/**
 * JSON whose numbers keep their source text. An amount sent as `100.50` must be converted from the
 * text "100.50", never from a float, and a response must be able to write `123456789.123456`
 * unquoted and exact. Both directions use lossless-json's LosslessNumber as the number type.
 */
export type JsonNumber = LosslessNumber;
export type JsonObject = Record<string, unknown>;

/** RFC 8259 number grammar: what may be written raw into JSON text. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Parses JSON text; every number becomes a JsonNumber holding its source text.
 * Throws SyntaxError (with a position) for invalid JSON, including a key repeated with another
 * value: a duplicate key would make "the" value of a signed field ambiguous.
 */
export function parseJsonLossless(text: string): unknown {
  return parse(text);
}

export function isJsonNumber(value: unknown): value is JsonNumber {
  return isLosslessNumber(value);
}

export function isJsonNumberText(text: string): boolean {
  return JSON_NUMBER.test(text);
}

/** A number to be written raw: `jsonNumber('100.5')` is written `100.5`. Throws for bad text. */
export function jsonNumber(text: string | bigint): JsonNumber {
  const value = typeof text === 'bigint' ? text.toString() : text;
  if (!JSON_NUMBER.test(value)) throw new TypeError(`not a JSON number: ${JSON.stringify(value)}`);
  return new LosslessNumber(value);
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isJsonNumber(value);
}

/** The field when it is a string, else undefined. */
export function readString(obj: JsonObject, key: string): string | undefined {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The field's number text: a JSON number's source text, or a string as it is (amounts and
 * timestamps may be sent either way). Undefined for anything else. The text is not validated.
 */
export function readNumberText(obj: JsonObject, key: string): string | undefined {
  const value = Object.hasOwn(obj, key) ? obj[key] : undefined;
  if (isJsonNumber(value)) return value.value;
  if (typeof value === 'string') return value;
  return undefined;
}

/**
 * Serialises a message: JsonNumbers are written as their raw text, bigints as integers, other
 * values as JSON.stringify would. Undefined properties are left out. Throws for a non-finite
 * number instead of silently writing `null` the way JSON.stringify does.
 */
export function stringifyMessage(value: unknown): string {
  if (value === null) return 'null';
  if (isJsonNumber(value)) return value.value;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as JSON`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => stringifyMessage(item ?? null)).join(',')}]`;
      const parts: string[] = [];
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) parts.push(`${JSON.stringify(key)}:${stringifyMessage(item)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new TypeError(`cannot write a ${typeof value} as JSON`);
  }
}
