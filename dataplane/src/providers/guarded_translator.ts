// What a provider answers is untrusted input. Translators read it by its documented shape, and a
// body of another shape (`"choices": null`, `"content": 5`, a `null` stream event) made them throw a
// TypeError: the core turned that into a 500 SLUICE_ERR_INTERNAL for a whole answer, and into
// "connection failed (TypeError)" for a stream. Every registered translator is wrapped here, once at
// startup, so any failure reading an upstream answer is what it is — the provider's fault, a 502
// SLUICE_ERR_UPSTREAM_ERROR (whole answers) or the documented mid-stream error event — for every
// translator, present and future, without a shape check in each.
import { GatewayError } from '../errors.ts';
import { typeForStatus } from '../wire/upstream_json.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamErrorInfo,
  UpstreamHeaders,
} from './types.ts';

/**
 * The documented error for an answer a translator could not read. The exception's own message is not
 * shown (V8 quotes values from the body in some: "x is not iterable"); it stays the cause, for logs.
 */
export function unreadableAnswer(err: unknown, provider: string): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError(
    'SLUICE_ERR_UPSTREAM_ERROR',
    `provider '${provider}' returned an answer of an unexpected shape`,
    { cause: err },
  );
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * The stream translator itself, its push/end guarded in place: the core and the client API's
 * completion step keep the object they were given (the Responses API reads the `final` response off
 * it to store the conversation), so it is not hidden behind a wrapper.
 */
function guardedStream(st: StreamTranslator, provider: string): StreamTranslator {
  const push = st.push.bind(st);
  const end = st.end.bind(st);
  st.push = (chunk: Buffer): StreamEvent[] => {
    let events: StreamEvent[];
    try {
      events = push(chunk);
    } catch (err) {
      throw unreadableAnswer(err, provider);
    }
    return textChecked(events, provider);
  };
  st.end = (): StreamEvent[] => {
    let events: StreamEvent[];
    try {
      events = end();
    } catch (err) {
      throw unreadableAnswer(err, provider);
    }
    return textChecked(events, provider);
  };
  return st;
}

/**
 * The core counts and caps an event's text as it passes (tokenizer, output caps). A translator takes
 * it from the upstream's delta (`"content": {}` or `"text": 5` in a hostile chunk): such a delta is an
 * answer of an unexpected shape, not something to count (it threw in the pump, reported as a
 * connection failure).
 */
function textChecked(events: StreamEvent[], provider: string): StreamEvent[] {
  for (const e of events) {
    if (e.text !== undefined && typeof e.text !== 'string')
      throw unreadableAnswer(new TypeError('a text delta that is not a string'), provider);
  }
  return events;
}

export function guardedTranslator(t: Translator): Translator {
  const guarded: Translator = {
    clientApi: t.clientApi,
    backendApi: t.backendApi,
    buildRequest: (body, ctx) => t.buildRequest(body, ctx),
    parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
      try {
        return t.parseResponse(body, ctx);
      } catch (err) {
        throw unreadableAnswer(err, ctx.provider.name);
      }
    },
    createStream: (ctx) => guardedStream(t.createStream(ctx), ctx.provider.name),
    // An error body is read for its message and identifiers only; whatever their types, the client
    // gets strings (or null), and an unreadable body is reported by its status.
    parseError(
      status: number,
      body: Buffer,
      ctx: TranslateContext,
      headers?: UpstreamHeaders,
    ): UpstreamErrorInfo {
      let info: UpstreamErrorInfo | undefined;
      try {
        info = t.parseError(status, body, ctx, headers);
      } catch {
        info = undefined;
      }
      if (!info) return { message: `HTTP ${status}`, type: typeForStatus(status) };
      const out: UpstreamErrorInfo = {
        message: text(info.message) ?? `HTTP ${status}`,
        code: text(info.code),
        param: text(info.param),
      };
      if (info.type !== undefined) out.type = text(info.type) ?? typeForStatus(status);
      return out;
    },
  };
  if (t.leavesBodyIntact) return { ...guarded, leavesBodyIntact: true };
  return guarded;
}
