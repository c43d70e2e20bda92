// Responses API client -> an OpenAI-family backend. Where the provider's preset serves the Responses
// API itself (a path for 'openai-responses': OpenAI, Azure OpenAI) the request passes through natively
// (tools, reasoning and every field the backend knows survive); elsewhere (vLLM, Ollama, DeepSeek, the
// mock, ...) it goes through the chat translator like every other backend. Conversation state is
// Sluice's own in both cases: `previous_response_id` was expanded into `input` before translation, so
// the backend never needs to have stored anything.
import { GatewayError } from '../../errors.ts';
import { parseOpenAIError } from '../../wire/openai/error.ts';
import { portableToolId } from '../../wire/openai/request.ts';
import { ResponsesStreamModel, type TextTarget } from '../../wire/responses/events.ts';
import {
  fromResponsesUsage,
  ITEM_ISSUER,
  type OutputItem,
  type ResponseObject,
} from '../../wire/responses/format.ts';
import { SseParser, sseData } from '../../wire/sse.ts';
import { parseUpstreamJson } from '../../wire/upstream_json.ts';
import { jsonRequestHeaders, upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';
import { streamBase } from './responses_to_any.ts';

type Obj = Record<string, unknown>;

/** OpenAI's bound on a function call's `call_id` ("string_above_max_length" beyond it). */
const MAX_CALL_ID = 64;

/** OpenAI refuses max_output_tokens below 16; a smaller grant is enforced by the stream cap instead. */
const MIN_OUTPUT_TOKENS = 16;

/** Does this provider serve the Responses API natively (its preset has a path for it)? */
export function servesResponses(ctx: TranslateContext): boolean {
  const p = ctx.provider.preset;
  if (!p.pathTemplateByOperation['openai-responses']) return false;
  const min = p.quirks?.responsesMinApiVersion;
  if (!min) return true;
  const v = ctx.provider.config.apiVersion ?? p.defaultApiVersion ?? '';
  return v >= min;
}

const bodies = new WeakMap<TranslateContext, Obj>();

/**
 * The input as this backend can take it. OpenAI resolves an input item's `id` in its own store and
 * answers 404 for an id it never issued, so an id goes upstream only when this provider issued it
 * (ITEM_ISSUER, set when Sluice found the id among the tenant's stored items): the ids Sluice minted
 * for an Anthropic or Gemini turn, or another OpenAI organization's, travel as content without their
 * id. A reasoning item is only readable by its issuer (its id or encrypted_content, `store: false`):
 * elsewhere it is dropped, as on every translated backend. A `call_id` longer than OpenAI's 64 characters (Gemini's
 * carry its thought signature, docs/providers.md) is sent as a digest, the same on the call and
 * its output, as for Anthropic and Bedrock: OpenAI answered 400 "string too long" to a conversation
 * that had called a tool on Gemini. The client's items are not modified (copies).
 */
function nativeItem(item: Obj, provider: string): Obj | undefined {
  const issuer = (item as { [ITEM_ISSUER]?: string })[ITEM_ISSUER];
  if (item.type === 'reasoning') return issuer === provider ? item : undefined;
  let out = item;
  if (item.id !== undefined && issuer !== provider) {
    const { id: _id, status: _status, ...content } = item;
    out = content;
  }
  if (typeof out.call_id === 'string' && out.call_id.length > MAX_CALL_ID)
    out = { ...out, call_id: portableToolId(out.call_id) };
  return out;
}

function nativeInput(input: unknown, provider: string): unknown {
  if (!Array.isArray(input)) return input;
  let changed = false;
  const out: Obj[] = [];
  for (const item of input as Obj[]) {
    const sent = nativeItem(item, provider);
    if (sent !== item) changed = true;
    if (sent) out.push(sent);
  }
  return changed ? out : input;
}

function buildRequest(body: Obj, ctx: TranslateContext): UpstreamRequest {
  const out: Obj = { ...body, model: ctx.upstreamModel, input: nativeInput(body.input, ctx.provider.name) };
  // Sluice keeps the conversation (expanded into input already); the backend must not look it up
  delete out.previous_response_id;
  if (typeof out.max_output_tokens === 'number' && out.max_output_tokens < MIN_OUTPUT_TOKENS)
    out.max_output_tokens = MIN_OUTPUT_TOKENS;
  bodies.set(ctx, body);
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'openai-responses', ctx.upstreamModel),
    headers: jsonRequestHeaders(ctx.provider, ctx.stream),
    body: JSON.stringify(out),
  };
}

/**
 * The backend never saw the client's previous_response_id (Sluice expanded it), so its answer says
 * null: the client must see its own back, as from OpenAI.
 */
function echoPrevious(response: Obj, ctx: TranslateContext): boolean {
  const prev = bodies.get(ctx)?.previous_response_id;
  if (typeof prev !== 'string' || response.previous_response_id === prev) return false;
  response.previous_response_id = prev;
  return true;
}

function parseResponse(raw: Buffer, ctx: TranslateContext): TranslatedResponse {
  const parsed = parseUpstreamJson<Partial<ResponseObject>>(raw, ctx.provider.name);
  return {
    body: echoPrevious(parsed as Obj, ctx) ? JSON.stringify(parsed) : raw,
    usage: fromResponsesUsage(parsed.usage),
    finishReason: parsed.status === 'incomplete' ? 'length' : 'stop',
    issuer: ctx.provider.name,
  };
}

/**
 * The backend's own Responses events, passed through byte for byte while a model of the response
 * follows them, so a token cap can end the stream in the same format (continuing its item ids and
 * sequence numbers) and the final response can be stored.
 */
class NativeResponsesStream implements StreamTranslator {
  readonly #sse = new SseParser();
  readonly #model: ResponsesStreamModel;
  #done = false;
  final: ResponseObject | undefined;
  /** TranslatedResponse.issuer: this provider issued the item ids of `final` */
  readonly issuer: string;

  readonly #echo: (response: Obj) => boolean;

  constructor(base: ResponseObject, issuer: string, echo: (response: Obj) => boolean) {
    this.#model = new ResponsesStreamModel(base);
    this.issuer = issuer;
    this.#echo = echo;
  }

  #follow(ev: Obj, out: StreamEvent): void {
    const m = this.#model;
    if (typeof ev.sequence_number === 'number') m.seq = ev.sequence_number + 1;
    const i = typeof ev.output_index === 'number' ? ev.output_index : -1;
    const item = m.items[i];
    switch (ev.type) {
      case 'response.created':
      case 'response.in_progress':
        if (ev.response) m.base = ev.response as ResponseObject;
        break;
      case 'response.output_item.added': {
        const added = structuredClone(ev.item) as OutputItem;
        if (added.type === 'message' && added.content.length === 0)
          added.content.push({ type: 'output_text', text: '', annotations: [], logprobs: [] });
        m.items[i] = added;
        m.open[i] = true;
        if (added.type === 'function_call') m.calls.set(added.id, i);
        break;
      }
      case 'response.output_text.delta':
        if (item?.type === 'message' && typeof ev.delta === 'string') {
          const part = item.content[0] as { text: string };
          part.text += ev.delta;
          out.text = ev.delta;
        }
        break;
      case 'response.function_call_arguments.delta':
        if (item?.type === 'function_call' && typeof ev.delta === 'string') {
          item.arguments += ev.delta;
          out.text = ev.delta;
        }
        break;
      case 'response.output_item.done':
        if (i >= 0) {
          m.items[i] = ev.item as OutputItem;
          m.open[i] = false;
        }
        break;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        const response = ev.response as ResponseObject | undefined;
        this.final = ev.type === 'response.failed' ? undefined : response;
        out.usage = fromResponsesUsage(response?.usage);
        out.done = true;
        this.#done = true;
        break;
      }
      case 'error':
        // the backend's own error event, passed on as it is; the stream ends after it
        out.done = true;
        this.#done = true;
        break;
    }
  }

  #target(ev: Obj): TextTarget | undefined {
    if (ev.type === 'response.output_text.delta') return { kind: 'text' };
    if (ev.type !== 'response.function_call_arguments.delta') return undefined;
    const item = this.#model.items[ev.output_index as number];
    if (item?.type !== 'function_call') return undefined;
    return { kind: 'args', key: item.id, callId: item.call_id, name: item.name };
  }

  push(chunk: Buffer): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const frame of this.#sse.push(chunk)) {
      let ev: Obj;
      try {
        ev = JSON.parse(frame.data) as Obj;
      } catch {
        out.push({ data: frame.raw });
        continue;
      }
      const before = this.#model.snapshot(this.#target(ev));
      // the few events that carry the whole response name the client's previous_response_id
      const response = ev.response as Obj | undefined;
      const data = response && this.#echo(response) ? sseData(JSON.stringify(ev), frame.event) : frame.raw;
      const event: StreamEvent = { data };
      this.#follow(ev, event);
      out.push(this.#model.mark(event, before));
    }
    return out;
  }

  end(): StreamEvent[] {
    if (this.#done) return [];
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      'upstream stream ended before the answer was complete',
    );
  }

  textChunk(text: string, cut?: StreamEvent): string {
    return this.#model.continueAfterCut(text, cut);
  }

  finish(_reason: 'length', usage: Usage, cut?: StreamEvent): string {
    this.#model.restore(cut);
    this.#done = true;
    const { data, response } = this.#model.complete('incomplete', usage, { reason: 'max_output_tokens' });
    this.final = response;
    return data;
  }

  errorEvent(err: GatewayError): string {
    return this.#model.failed(err);
  }
}

/**
 * `openai-responses -> openai`: natively where the provider serves the Responses API, otherwise
 * `viaChat` (the composition every other backend uses). Decided per attempt from the provider's
 * preset, a table lookup.
 */
export function responsesToOpenAI(viaChat: Translator): Translator {
  return {
    clientApi: 'openai-responses',
    backendApi: 'openai',
    leavesBodyIntact: true,
    buildRequest: (body, ctx) =>
      servesResponses(ctx) ? buildRequest(body, ctx) : viaChat.buildRequest(body, ctx),
    parseResponse: (raw, ctx) =>
      servesResponses(ctx) ? parseResponse(raw, ctx) : viaChat.parseResponse(raw, ctx),
    createStream: (ctx) =>
      servesResponses(ctx)
        ? new NativeResponsesStream(
            streamBase(bodies.get(ctx) ?? {}, 'resp_pending', ctx.upstreamModel),
            ctx.provider.name,
            (r) => echoPrevious(r, ctx),
          )
        : viaChat.createStream(ctx),
    parseError: (status, body, ctx, headers) =>
      servesResponses(ctx) ? parseOpenAIError(status, body) : viaChat.parseError(status, body, ctx, headers),
  };
}
