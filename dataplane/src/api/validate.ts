// Small field validators that throw the documented 400 with the path of the bad field.
import { GatewayError } from '../errors.ts';

export function invalid(param: string, message: string): never {
  throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', message, { param });
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export function requireString(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) invalid(key, `'${key}' is required`);
  if (typeof v !== 'string' || v.length === 0) invalid(key, `'${key}' must be a non-empty string`);
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') invalid(key, `'${key}' must be a boolean`);
  return v;
}

export function optionalPositiveInt(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    invalid(key, `'${key}' must be a positive integer`);
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
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    invalid(key, `'${key}' must be a number between ${min} and ${max}`);
  }
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
