// Shared pieces of the Anthropic translator tests: a translation context for a preset, SSE parsing of
// translator output, a checker for the Anthropic event grammar the SDKs rely on, running a stream
// translator over pieces, and recorded-style Anthropic streams.
import type { ProviderConfig } from '../../dataplane/src/config/schema.ts';
import { GatewayError } from '../../dataplane/src/errors.ts';
import { getPreset } from '../../dataplane/src/providers/presets.ts';
import type {
  ClientApi,
  ResolvedProvider,
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  Usage,
} from '../../dataplane/src/providers/types.ts';
import { SseParser } from '../../dataplane/src/wire/sse.ts';

export function ctxFor(
  type: string,
  clientApi: ClientApi,
  over: Partial<TranslateContext> & { maxOutputTokens?: number } = {},
): TranslateContext {
  const preset = getPreset(type);
  if (!preset) throw new Error(`no preset ${type}`);
  const baseUrl = preset.defaultBaseUrl ?? 'http://127.0.0.1:1';
  const url = new URL(baseUrl);
  const models = new Map();
  if (over.maxOutputTokens)
    models.set('claude-up', { name: 'claude-up', maxOutputTokens: over.maxOutputTokens });
  const provider: ResolvedProvider = {
    name: `my-${type}`,
    config: { name: `my-${type}`, type, models: [], maxQueue: 100, connections: 8 } as ProviderConfig,
    preset,
    baseUrl,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    credentials: { apiKey: 'k-123' },
    models,
  };
  const { maxOutputTokens: _ignored, ...rest } = over;
  return {
    provider,
    upstreamModel: 'claude-up',
    clientModel: 'client-model',
    clientApi,
    stream: false,
    requestId: 'req1',
    clientWantsStreamUsage: false,
    ...rest,
  };
}

export interface ParsedEvent {
  event: string | undefined;
  data: Record<string, unknown> | '[DONE]';
}

/** Parse translator output (client-format SSE) into events. */
export function parseSse(text: string): ParsedEvent[] {
  const p = new SseParser();
  return [...p.push(text), ...p.end()].map((f) => ({
    event: f.event,
    data: f.data === '[DONE]' ? '[DONE]' : (JSON.parse(f.data) as Record<string, unknown>),
  }));
}

/** An Anthropic SSE stream from a list of event objects (`type` doubles as the event name). */
export function anthropicSse(events: Array<Record<string, unknown>>): string {
  return events.map((e) => `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n`).join('');
}

/** Split text into pieces of n bytes (frames cut anywhere, as TCP may). */
export function pieces(text: string, n: number): Buffer[] {
  const buf = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += n) out.push(buf.subarray(i, i + n));
  return out;
}

/**
 * Throws unless `events` follow the Messages stream grammar: message_start first, blocks started in
 * index order and stopped before the next starts, deltas only for the open block and of its kind,
 * then message_delta and message_stop last. Pings may appear anywhere after message_start.
 */
export function assertAnthropicGrammar(events: ParsedEvent[]): void {
  const types = events.map((e) => (e.data === '[DONE]' ? '[DONE]' : String(e.data.type)));
  for (const e of events) {
    if (e.data !== '[DONE]' && e.event !== e.data.type)
      throw new Error(`event name ${e.event} != type ${String(e.data.type)}`);
  }
  if (types[0] !== 'message_start') throw new Error(`first event is ${types[0]}`);
  if (types.at(-1) !== 'message_stop') throw new Error(`last event is ${types.at(-1)}`);
  if (types.at(-2) !== 'message_delta') throw new Error(`event before message_stop is ${types.at(-2)}`);
  let open: { index: number; kind: string } | undefined;
  let next = 0;
  for (const [i, e] of events.entries()) {
    if (e.data === '[DONE]') throw new Error('[DONE] in an Anthropic stream');
    const d = e.data;
    if (i > 0 && d.type === 'message_start') throw new Error('second message_start');
    if (d.type === 'content_block_start') {
      if (open) throw new Error(`block ${d.index} started while ${open.index} is open`);
      if (d.index !== next) throw new Error(`block index ${d.index}, expected ${next}`);
      open = { index: next++, kind: String((d.content_block as { type: string }).type) };
    } else if (d.type === 'content_block_delta') {
      if (!open || d.index !== open.index) throw new Error(`delta for block ${d.index} which is not open`);
      const dt = (d.delta as { type: string }).type;
      const ok = open.kind === 'text' ? dt === 'text_delta' : dt === 'input_json_delta';
      if (!ok) throw new Error(`${dt} in a ${open.kind} block`);
    } else if (d.type === 'content_block_stop') {
      if (!open || d.index !== open.index) throw new Error(`stop for block ${d.index} which is not open`);
      open = undefined;
    } else if (d.type === 'message_delta' && open) {
      throw new Error(`message_delta while block ${open.index} is open`);
    }
  }
}

/** Text and tool inputs an SDK would assemble from an Anthropic event list. */
export function assemble(events: ParsedEvent[]): {
  text: string;
  tools: Array<{ id: string; name: string; input: unknown }>;
} {
  let text = '';
  const tools: Array<{ id: string; name: string; json: string }> = [];
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const d = e.data as {
      type: string;
      content_block?: { type: string; id: string; name: string };
      delta?: { type: string; text?: string; partial_json?: string };
    };
    if (d.type === 'content_block_start' && d.content_block?.type === 'tool_use') {
      tools.push({ id: d.content_block.id, name: d.content_block.name, json: '' });
    } else if (d.type === 'content_block_delta' && d.delta?.type === 'text_delta') text += d.delta.text ?? '';
    else if (d.type === 'content_block_delta' && d.delta?.type === 'input_json_delta') {
      const last = tools.at(-1);
      if (last) last.json += d.delta.partial_json ?? '';
    }
  }
  return {
    text,
    tools: tools.map((t) => ({ id: t.id, name: t.name, input: t.json ? JSON.parse(t.json) : {} })),
  };
}

/** Parsed JSON in assertions: any depth can be indexed (values are checked with toEqual). */
export interface J {
  [key: string]: J;
  [index: number]: J;
}

/** The client-visible JSON of every event in translator output, `[DONE]` left out. */
export function jsonEvents(text: string): J[] {
  return parseSse(text)
    .filter((e) => e.data !== '[DONE]')
    .map((e) => e.data as unknown as J);
}

export const PNG = 'iVBORw0KGgo=';

export async function rejection(p: Promise<unknown> | (() => unknown)): Promise<GatewayError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

export function run(st: StreamTranslator, bytes: Buffer[]): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (const b of bytes) out.push(...st.push(b));
  out.push(...st.end());
  return out;
}

export const joined = (events: StreamEvent[]) => events.map((e) => String(e.data)).join('');
/** usage as the core sees it: later events' counters overwrite earlier ones */
export function mergedUsage(events: StreamEvent[]): Usage | undefined {
  let usage: Usage | undefined;
  for (const e of events)
    if (e.usage) usage = Object.assign(usage ?? { inputTokens: 0, outputTokens: 0 }, e.usage);
  return usage;
}

/** Recorded-style Anthropic stream: text, then a tool call whose JSON arrives in small pieces. */
export const TEXT_AND_TOOL = anthropicSse([
  {
    type: 'message_start',
    message: {
      id: 'msg_01X',
      type: 'message',
      role: 'assistant',
      model: 'claude-up',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: 472,
        output_tokens: 2,
        cache_read_input_tokens: 128,
        cache_creation_input_tokens: 0,
      },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'ping' },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Okay, let me ' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'content_block_start',
    index: 1,
    content_block: { type: 'tool_use', id: 'toolu_01T', name: 'get_weather', input: {} },
  },
  { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '' } },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: '{"city": "Sa' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: 'n Francisco"' },
  },
  {
    type: 'content_block_delta',
    index: 1,
    delta: { type: 'input_json_delta', partial_json: ', "unit": "celsius"}' },
  },
  { type: 'content_block_stop', index: 1 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'tool_use', stop_sequence: null },
    usage: { output_tokens: 89 },
  },
  { type: 'message_stop' },
]);

/** Usage only in message_delta (message_start reports zeros), as newer API versions may send it. */
export const USAGE_IN_DELTA = anthropicSse([
  {
    type: 'message_start',
    message: {
      id: 'msg_02',
      type: 'message',
      role: 'assistant',
      model: 'claude-up',
      content: [],
      usage: { input_tokens: 0, output_tokens: 0 },
    },
  },
  { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
  { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
  { type: 'content_block_stop', index: 0 },
  {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { input_tokens: 40, output_tokens: 3, cache_read_input_tokens: 10 },
  },
  { type: 'message_stop' },
]);
