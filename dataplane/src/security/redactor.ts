// Removing secret material from text before it reaches a client or a log line. Built once per config
// load from every secret the config holds (provider credentials, the Redis password, JWT secrets):
// occurrences of a configured secret (whole, pieces of >= MIN_FRAGMENT characters, or encoded) and
// anything shaped like a credential (sk-..., AIza..., Bearer ..., JWTs) become REDACTED.
//
// A credential shorter than MIN_FRAGMENT cannot be recognised by its pieces without garbling ordinary
// text, so the free text (message) of errors from a provider that holds one is withheld altogether;
// its whole value is still redacted everywhere else.
import { GatewayError, type UpstreamErrorFields } from '../errors.ts';
import { scanKeyShapes } from './key_shapes.ts';
import { MIN_FRAGMENT, SecretMatcher } from './secret_matcher.ts';

export const REDACTED = '[redacted]';

/** Secrets longer than this are API-key lists and certificates, not something an upstream echoes. */
const MAX_SECRET_CHARS = 8192;

/** Upstream error codes/types/params pass only in this shape (identifiers, paths like messages[0].content). */
const FIELD_SHAPE = /^[A-Za-z0-9_.:[\]-]{1,128}$/;

export interface SecretSet {
  /** provider name -> its credential values */
  providers: ReadonlyMap<string, readonly string[]>;
  /** other secrets the config read (Redis password, JWT secrets) */
  other: readonly string[];
}

export class Redactor {
  readonly #matcher: SecretMatcher;
  /** providers holding a credential shorter than MIN_FRAGMENT */
  readonly withheld: ReadonlySet<string>;

  constructor(secrets: SecretSet = { providers: new Map(), other: [] }) {
    const all: string[] = [];
    const withheld = new Set<string>();
    for (const [provider, values] of secrets.providers) {
      for (const v of values) {
        if (!v || v.length > MAX_SECRET_CHARS) continue;
        all.push(v);
        if (v.length < MIN_FRAGMENT) withheld.add(provider);
      }
    }
    for (const v of secrets.other) if (v && v.length <= MAX_SECRET_CHARS) all.push(v);
    this.#matcher = new SecretMatcher(all);
    this.withheld = withheld;
  }

  /** text with every secret and credential-shaped token replaced by REDACTED */
  redact(text: string): string {
    if (text.length === 0) return text;
    let ranges: number[] | undefined;
    const mark = (start: number, end: number) => {
      ranges ??= [];
      ranges.push(start, end);
    };
    this.#matcher.scan(text, mark);
    scanKeyShapes(text, mark);
    if (!ranges) return text;
    return cut(text, ranges);
  }

  /** A copy of a gateway error safe to show: message and upstream fields redacted (or withheld). */
  scrubError(err: GatewayError): GatewayError {
    const up = err.upstream;
    const withheld = up !== undefined && this.withheld.has(up.provider);
    const message = withheld
      ? `provider '${up.provider}' answered ${up.status} (message withheld: a credential of this provider is too short to recognise in text)`
      : this.redact(err.message);
    const upstream = up && this.#fields(up);
    // the provider's param must look like a field path; Sluice's own only loses a secret
    const param =
      err.param === null
        ? null
        : up
          ? this.#field(err.param)
          : this.redact(err.param) === err.param
            ? err.param
            : null;
    if (message === err.message && param === err.param && sameFields(upstream, up)) return err;
    return err.copyWith({ message, param, upstream });
  }

  #field(v: string): string | null {
    if (!FIELD_SHAPE.test(v)) return null;
    return this.redact(v) === v ? v : null;
  }

  #fields(up: UpstreamErrorFields): UpstreamErrorFields {
    const out: UpstreamErrorFields = { provider: up.provider, status: up.status };
    if (up.type !== undefined) out.type = up.type === null ? null : this.#field(up.type);
    if (up.code !== undefined) out.code = up.code === null ? null : this.#field(up.code);
    if (up.param !== undefined) out.param = up.param === null ? null : this.#field(up.param);
    return out;
  }
}

function sameFields(a: UpstreamErrorFields | undefined, b: UpstreamErrorFields | undefined): boolean {
  return a === b || (!!a && !!b && a.type === b.type && a.code === b.code && a.param === b.param);
}

/** text with the (possibly overlapping, unordered) [start, end) ranges replaced by REDACTED */
function cut(text: string, flat: number[]): string {
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; i += 2) ranges.push([flat[i] as number, flat[i + 1] as number]);
  ranges.sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  let curStart = -1;
  let curEnd = -1;
  for (const [s, e] of ranges) {
    if (curStart >= 0 && s <= curEnd) {
      if (e > curEnd) curEnd = e;
      continue;
    }
    if (curStart >= 0) {
      out += text.slice(pos, curStart) + REDACTED;
      pos = curEnd;
    }
    curStart = s;
    curEnd = e;
  }
  if (curStart >= 0) {
    out += text.slice(pos, curStart) + REDACTED;
    pos = curEnd;
  }
  return out + text.slice(pos);
}

/** Key shapes only: what log lines get before the first config is loaded. */
export const SHAPES_ONLY = new Redactor();

let forLogs: Redactor = SHAPES_ONLY;

/** The loaded config's redactor, used by every log line (see observability/logger.ts). */
export function setLogRedactor(r: Redactor): void {
  forLogs = r;
}

export function logRedactor(): Redactor {
  return forLogs;
}

/**
 * A log argument with every string in it redacted: strings, errors (message, stack, code and cause)
 * and plain objects/arrays up to a small depth. Returns the value itself when nothing changed.
 */
export function redactLogValue(v: unknown, r: Redactor = forLogs, depth = 0): unknown {
  if (typeof v === 'string') return r.redact(v);
  if (v === null || typeof v !== 'object' || depth > 4) return v;
  if (v instanceof GatewayError) return errorObject(r.scrubError(v), r, depth);
  if (v instanceof Error) return errorObject(v, r, depth);
  if (Array.isArray(v)) {
    let changed = false;
    const out = v.map((x) => {
      const y = redactLogValue(x, r, depth + 1);
      if (y !== x) changed = true;
      return y;
    });
    return changed ? out : v;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = redactLogValue(x, r, depth + 1);
    if (y !== x) {
      out ??= { ...(v as Record<string, unknown>) };
      out[k] = y;
    }
  }
  return out ?? v;
}

/** pino's err serializer shape ({type, message, stack, code, cause}), every string redacted. */
function errorObject(e: Error, r: Redactor, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: e.name,
    message: r.redact(e.message),
    stack: e.stack === undefined ? undefined : r.redact(e.stack),
  };
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) out.code = typeof code === 'string' ? r.redact(code) : code;
  if (e.cause !== undefined) out.cause = redactLogValue(e.cause, r, depth + 1);
  return out;
}
