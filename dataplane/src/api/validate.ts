// Small field validators that throw the documented 400 with the path of the bad field.
import { GatewayError } from '../errors.ts';

/**
 * OpenAI's `code` for each kind of bad field (the recorded API answers with these, and clients and
 * SDKs show them); Sluice's own code, SLUICE_ERR_INVALID_REQUEST, goes in the x-sluice-error-code header.
 */
export type InvalidCode =
  | 'invalid_value'
  | 'invalid_type'
  | 'missing_required_parameter'
  | 'empty_array'
  | 'integer_below_min_value'
  | 'integer_above_max_value'
  | 'decimal_below_min_value'
  | 'decimal_above_max_value'
  | 'unsupported_parameter'
  | 'duplicate_parameter';

export function invalid(param: string, message: string, code: InvalidCode = 'invalid_value'): never {
  throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', message, { param, publicCode: code });
}

/** How OpenAI names a JSON value's type in its messages ("but got an integer instead"). */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  return 'an object';
}

/** A JSON object (not null, not an array): what every client API validator means by "an object". */
export function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * A client-supplied value as text for an error message: a primitive as it is, cut to 64 characters;
 * an object or array by its JSON type name. String() of an object may throw (a "toString" key that is
 * not a function: a 500 where the client should get a 400) or run to any length.
 */
export function shownValue(v: unknown): string {
  if (v !== null && typeof v === 'object') return jsonTypeName(v);
  const s = String(v);
  return s.length <= 64 ? s : s.slice(0, 64);
}

/**
 * Standard base64 (RFC 4648 alphabet, optional padding), as Gemini's and Bedrock's JSON `bytes` fields
 * take it. Linear: one anchored character class. Image and file data is checked with it before a
 * translator sends it, so junk is the client's 400 and not the provider's "Base64 decoding failed".
 */
export function isBase64(s: string): boolean {
  // a length of 4n+1 is never base64: no decoder makes a byte of 6 bits
  return s.length % 4 !== 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

/** "Invalid type for 'x': expected a string, but got an integer instead." (OpenAI's wording) */
export function invalidType(param: string, expected: string, got: unknown): never {
  invalid(
    param,
    `Invalid type for '${param}': expected ${expected}, but got ${jsonTypeName(got)} instead.`,
    'invalid_type',
  );
}

export function missing(param: string): never {
  invalid(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter');
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError(
      'SLUICE_ERR_INVALID_REQUEST',
      `Invalid type for the request body: expected an object, but got ${jsonTypeName(body)} instead.`,
      { publicCode: 'invalid_type' },
    );
  }
  return body as Record<string, unknown>;
}

export function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) missing(key);
  if (typeof v !== 'string') invalidType(key, 'a string', v);
  if (v.length === 0)
    invalid(key, `Invalid '${key}': empty string. Expected a string with minimum length 1.`, 'invalid_value');
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') invalidType(key, 'a boolean', v);
  return v;
}

export function optionalPositiveInt(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) invalidType(key, 'an integer', v);
  if (v < 1)
    invalid(
      key,
      `Invalid '${key}': integer below minimum value. Expected a value >= 1, but got ${v} instead.`,
      'integer_below_min_value',
    );
  return v;
}

export function optionalNumberInRange(
  body: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) invalidType(key, 'a decimal', v);
  if (v < min)
    invalid(
      key,
      `Invalid '${key}': decimal below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
      'decimal_below_min_value',
    );
  if (v > max)
    invalid(
      key,
      `Invalid '${key}': decimal above maximum value. Expected a value <= ${max}, but got ${v} instead.`,
      'decimal_above_max_value',
    );
}

/** Text of an OpenAI/Anthropic content value: a string or an array of parts with `text`. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (part && typeof part === 'object') {
      const t = (part as { text?: unknown }).text;
      if (typeof t === 'string') out += (out ? '\n' : '') + t;
    }
  }
  return out;
}
