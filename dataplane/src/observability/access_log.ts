// The one-line-per-request access log. Its fields are fixed and flat (ids, names, numbers), so the line
// is built as a string here and handed to the logger's own destination, byte for byte the line pino
// would write for the same object: pino's generic path (serializers, redaction, property walk) cost
// ~10% of a non-streaming request's CPU in the bench profile. Loggers this cannot mirror exactly
// (custom level formatters, mixins, a different message key, multistream metadata) go through pino.
import { type Logger, symbols } from 'pino';

export interface AccessEntry {
  reqId: string;
  /** the client's own id (x-client-request-id / x-request-id), beside Sluice's, never instead */
  clientReqId?: string | undefined;
  /** what was called, on lines without a route (refusals, model lists, stored responses, ...) */
  api?: string | undefined;
  namespace: string | undefined;
  route: string | undefined;
  model: string | undefined;
  provider: string | undefined;
  status: number;
  code: string;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  cache: 'hit' | 'miss' | undefined;
  truncated: boolean | undefined;
  ms: number;
}

interface PinoInternals {
  [symbols.chindingsSym]: string;
  [symbols.timeSym]: () => string;
  [symbols.streamSym]: { write(s: string): unknown; [symbols.needsMetadataGsym]?: boolean };
  [symbols.messageKeySym]: string;
  [symbols.mixinSym]: unknown;
  [symbols.formattersSym]: { level(label: string, n: number): object };
  [symbols.hooksSym]: { streamWrite?: unknown };
}

/** Writes access lines for one logger; `write` is a no-op when the logger's level hides info. */
export type AccessWriter = (e: AccessEntry) => void;

const writers = new WeakMap<Logger, AccessWriter>();

/**
 * Names repeat on nearly every line (a replica serves a few namespaces, routes, models, providers and
 * codes), and JSON.stringify of each was most of the cost of building a line (~40 ns each of ~340,
 * against ~60 for the rest). Each is quoted once; the map is bounded, since a response's model name is
 * the upstream's and could be new on every line, and long strings are not kept at all.
 */
const quotedNames = new Map<string, string>();
const MAX_QUOTED_NAMES = 1024;
const MAX_QUOTED_NAME_LENGTH = 256;

/** how many quoted names are held (bounded by MAX_QUOTED_NAMES) */
export function quotedNamesHeld(): number {
  return quotedNames.size;
}

function quotedName(s: string): string {
  let q = quotedNames.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (s.length <= MAX_QUOTED_NAME_LENGTH) {
      if (quotedNames.size >= MAX_QUOTED_NAMES) quotedNames.clear();
      quotedNames.set(s, q);
    }
  }
  return q;
}

export function accessWriter(log: Logger): AccessWriter {
  let w = writers.get(log);
  if (!w) {
    w = makeWriter(log);
    writers.set(log, w);
  }
  return w;
}

/** Can the line be built here and still be exactly pino's? */
function mirrorsPino(p: PinoInternals): boolean {
  const level = p[symbols.formattersSym].level('info', 30) as { level?: unknown };
  return (
    typeof p[symbols.chindingsSym] === 'string' &&
    typeof p[symbols.timeSym] === 'function' &&
    typeof p[symbols.streamSym]?.write === 'function' &&
    p[symbols.streamSym][symbols.needsMetadataGsym] !== true &&
    p[symbols.messageKeySym] === 'msg' &&
    !p[symbols.mixinSym] &&
    !p[symbols.hooksSym]?.streamWrite &&
    Object.keys(level).length === 1 &&
    level.level === 30
  );
}

function makeWriter(log: Logger): AccessWriter {
  const p = log as unknown as PinoInternals;
  if (!mirrorsPino(p)) {
    return (e) => log.info(e, 'request');
  }
  return (e) => {
    // the level may change at run time (a reload, a debug toggle), so it is read per line
    if (!log.isLevelEnabled('info')) return;
    let line = `{"level":30${p[symbols.timeSym]()}${p[symbols.chindingsSym]},"reqId":${JSON.stringify(e.reqId)}`;
    if (e.clientReqId !== undefined) line += `,"clientReqId":${JSON.stringify(e.clientReqId)}`;
    if (e.api !== undefined) line += `,"api":"${e.api}"`;
    if (e.namespace !== undefined) line += `,"namespace":${quotedName(e.namespace)}`;
    if (e.route !== undefined) line += `,"route":${quotedName(e.route)}`;
    if (e.model !== undefined) line += `,"model":${quotedName(e.model)}`;
    if (e.provider !== undefined) line += `,"provider":${quotedName(e.provider)}`;
    line += `,"status":${e.status},"code":${quotedName(e.code)}`;
    if (e.inputTokens !== undefined) line += `,"inputTokens":${e.inputTokens}`;
    if (e.outputTokens !== undefined) line += `,"outputTokens":${e.outputTokens}`;
    if (e.cache !== undefined) line += `,"cache":"${e.cache}"`;
    if (e.truncated !== undefined) line += `,"truncated":${e.truncated}`;
    line += `,"ms":${e.ms},"msg":"request"}\n`;
    p[symbols.streamSym].write(line);
  };
}
