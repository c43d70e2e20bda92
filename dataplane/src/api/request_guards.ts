// Checks on a request body that bound the work everything after them does, run before any
// validation, matching or translation: nesting depth, on the text before it is parsed (recursive
// copies and serialisers overflow the stack on deep JSON: 200,000 levels gave a RangeError and a 500),
// and the model name (its length bounds every route, policy and namespace match; dot segments must
// never reach an upstream path).
import { GatewayError } from '../errors.ts';

/**
 * Deepest nesting of objects and arrays a request may have. Real requests stay far below it (a JSON
 * schema in `tools` or `response_format` ten levels deep is ~25 JSON levels); the recursive code the
 * body meets later (structuredClone, JSON.stringify, translators) handles thousands.
 */
export const MAX_JSON_DEPTH = 128;

/** Longest model name accepted, in UTF-8 bytes (provider model ids are far shorter). */
export const MAX_MODEL_NAME_BYTES = 256;

/** Longest piece of a client-chosen name put into an error message. */
const SHOWN_CHARS = 64;

/**
 * True when the JSON text nests objects/arrays deeper than `max`: one pass over the characters,
 * counting brackets outside strings. Run on the body's text before it is parsed, so it bounds the work
 * of everything after it, and it is one monomorphic loop over a string: the walk over the parsed
 * objects it replaces met a new object shape with nearly every request and was deoptimised and
 * recompiled over and over (~10% of a request's CPU in the bench profile). Invalid JSON is not its
 * business (the parser refuses it next); it only never misreads brackets inside strings.
 */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  if (atMostBrackets(text, max)) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote, stepping over escapes
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * At most `max` opening brackets in the whole text (inside strings too, so never an undercount):
 * it cannot nest deeper than `max`. Native searches that jump from bracket to bracket, so a typical
 * request body is cleared without the character loop above.
 */
function atMostBrackets(text: string, max: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > max) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > max) return false;
  return true;
}

/** Throws SLUICE_ERR_JSON_TOO_DEEP (400) for a JSON text nested deeper than MAX_JSON_DEPTH. */
export function checkJsonDepth(text: string): void {
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH))
    throw new GatewayError(
      'SLUICE_ERR_JSON_TOO_DEEP',
      `the JSON body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
    );
}

/** A client-chosen name for an error message: cut to a few dozen characters, never echoed whole. */
export function shown(name: string): string {
  return name.length <= SHOWN_CHARS ? name : `${name.slice(0, SHOWN_CHARS)}… (${name.length} characters)`;
}

/** C0 controls and DEL: no model id has them, and they could forge log lines or headers. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** A `.` or `..` between `/` or `\\` separators (or the ends); a scan, not a split per request. */
export function hasDotSegment(s: string): boolean {
  if (s.indexOf('.') < 0) return false;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2f;
    if (c !== 0x2f && c !== 0x5c) continue;
    const len = i - start;
    if (
      len >= 1 &&
      len <= 2 &&
      s.charCodeAt(start) === 0x2e &&
      (len === 1 || s.charCodeAt(start + 1) === 0x2e)
    )
      return true;
    start = i + 1;
  }
  return false;
}

/**
 * Refuses model names no provider uses and that could do harm on the way: longer than
 * MAX_MODEL_NAME_BYTES (checked before any route or policy pattern sees the name), with control
 * characters, or with a `.`/`..` path segment (translators put the name into upstream URL paths;
 * percent-encoding leaves dots alone, and an upstream or proxy would resolve them).
 */
export function checkModelName(model: string): void {
  // a UTF-8 byte is at least a UTF-16 unit and at most three, so length bounds the cheap cases
  if (model.length > MAX_MODEL_NAME_BYTES || Buffer.byteLength(model) > MAX_MODEL_NAME_BYTES)
    throw new GatewayError(
      'SLUICE_ERR_INVALID_REQUEST',
      `'model' is longer than ${MAX_MODEL_NAME_BYTES} bytes: ${shown(model)}`,
      { param: 'model' },
    );
  if (hasControl(model))
    throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', `'model' must not contain control characters`, {
      param: 'model',
    });
  if (hasDotSegment(model))
    throw new GatewayError(
      'SLUICE_ERR_INVALID_REQUEST',
      `'model' must not contain '.' or '..' path segments`,
      {
        param: 'model',
      },
    );
}
