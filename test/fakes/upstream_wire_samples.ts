// Valid upstream answers in every provider wire format Sluice speaks (whole and streamed), as their
// public API references document them, and fast-check arbitraries that break them: a field replaced
// by a value of the wrong type (a count as "12", -5, 1e308, null), a field dropped, a frame made
// malformed, the whole thing cut short, and the bytes split anywhere. Used by the translator
// properties (dataplane/src/providers/translators/hostile_upstream.test.ts) and the end-to-end ones
// (test/reliability/upstream_response_fuzz.test.ts).
import fc from 'fast-check';
import { encodeFrame } from './bedrock.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The wire formats: the backend's whole body and its stream, as JSON payloads before framing. */
export type WireName =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-embeddings'
  | 'openai-responses'
  | 'anthropic'
  | 'gemini'
  | 'gemini-embeddings'
  | 'bedrock';

const openaiUsage = {
  prompt_tokens: 3,
  completion_tokens: 2,
  total_tokens: 5,
  prompt_tokens_details: { cached_tokens: 1 },
  completion_tokens_details: { reasoning_tokens: 1 },
};

export const WHOLE: Record<WireName, Json> = {
  'openai-chat': {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'hi there',
          refusal: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: openaiUsage,
  },
  'openai-completions': {
    id: 'cmpl-1',
    object: 'text_completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, text: 'hi there', logprobs: null, finish_reason: 'stop' }],
    usage: openaiUsage,
  },
  'openai-embeddings': {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.25, -0.5, 1] }],
    model: 'm',
    usage: { prompt_tokens: 3, total_tokens: 3 },
  },
  'openai-responses': {
    id: 'resp_1',
    object: 'response',
    created_at: 1,
    status: 'completed',
    model: 'm',
    output: [
      {
        type: 'message',
        id: 'msg_1',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'hi there', annotations: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_1',
        name: 'f',
        arguments: '{}',
        status: 'completed',
      },
    ],
    usage: {
      input_tokens: 3,
      output_tokens: 2,
      total_tokens: 5,
      input_tokens_details: { cached_tokens: 1 },
      output_tokens_details: { reasoning_tokens: 1 },
    },
  },
  anthropic: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'm',
    content: [
      { type: 'thinking', thinking: 'hmm', signature: 'sig' },
      { type: 'text', text: 'hi there' },
      { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
    ],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 3, output_tokens: 2, cache_read_input_tokens: 1, cache_creation_input_tokens: 1 },
  },
  gemini: {
    candidates: [
      {
        index: 0,
        content: {
          role: 'model',
          parts: [
            { text: 'hmm', thought: true },
            { text: 'hi there' },
            { functionCall: { name: 'f', args: { a: 1 } } },
          ],
        },
        finishReason: 'STOP',
      },
    ],
    usageMetadata: {
      promptTokenCount: 3,
      candidatesTokenCount: 2,
      totalTokenCount: 6,
      thoughtsTokenCount: 1,
      cachedContentTokenCount: 1,
    },
    modelVersion: 'm',
    responseId: 'r1',
  },
  'gemini-embeddings': {
    embeddings: [{ values: [0.25, -0.5, 1] }],
    usageMetadata: { promptTokenCount: 3 },
  },
  bedrock: {
    output: {
      message: {
        role: 'assistant',
        content: [
          { reasoningContent: { reasoningText: { text: 'hmm', signature: 'sig' } } },
          { text: 'hi there' },
          { toolUse: { toolUseId: 'tu_1', name: 'f', input: { a: 1 } } },
        ],
      },
    },
    stopReason: 'end_turn',
    usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5, cacheReadInputTokens: 1 },
    metrics: { latencyMs: 1 },
  },
};

/** One stream event before framing: an SSE `event:` name (or Bedrock's :event-type) and its JSON. */
export interface WireEvent {
  event?: string;
  data: Json;
}

const chunk = (delta: Json, finish: string | null = null, usage: Json = null): Json => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: usage ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  usage,
});

const responsesItem = {
  type: 'message',
  id: 'msg_1',
  status: 'completed',
  role: 'assistant',
  content: [{ type: 'output_text', text: 'hi there', annotations: [] }],
};

export const STREAM: Partial<Record<WireName, WireEvent[]>> = {
  'openai-chat': [
    { data: chunk({ role: 'assistant', content: '' }) },
    { data: chunk({ content: 'hi ' }) },
    {
      data: chunk({
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } },
        ],
      }),
    },
    { data: chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }) },
    { data: chunk({ content: 'thére 世😀' }, 'stop') },
    { data: chunk({}, null, openaiUsage) },
  ],
  'openai-completions': [
    {
      data: {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, text: 'hi ', finish_reason: null }],
      },
    },
    {
      data: {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, text: 'there', finish_reason: 'stop' }],
      },
    },
    {
      data: {
        id: 'cmpl-1',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [],
        usage: openaiUsage,
      },
    },
  ],
  'openai-responses': [
    {
      event: 'response.created',
      data: {
        type: 'response.created',
        sequence_number: 0,
        response: { id: 'resp_1', object: 'response', status: 'in_progress', model: 'm', output: [] },
      },
    },
    {
      event: 'response.output_item.added',
      data: {
        type: 'response.output_item.added',
        sequence_number: 1,
        output_index: 0,
        item: { ...responsesItem, status: 'in_progress', content: [] },
      },
    },
    {
      event: 'response.output_text.delta',
      data: {
        type: 'response.output_text.delta',
        sequence_number: 2,
        item_id: 'msg_1',
        output_index: 0,
        content_index: 0,
        delta: 'hi thére 世',
      },
    },
    {
      event: 'response.output_item.done',
      data: { type: 'response.output_item.done', sequence_number: 3, output_index: 0, item: responsesItem },
    },
    {
      event: 'response.completed',
      data: { type: 'response.completed', sequence_number: 4, response: WHOLE['openai-responses'] },
    },
  ],
  anthropic: [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'm',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 3, output_tokens: 1, cache_read_input_tokens: 1 },
        },
      },
    },
    {
      event: 'content_block_start',
      data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    },
    { event: 'ping', data: { type: 'ping' } },
    {
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi thére 世😀' } },
    },
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'content_block_start',
      data: {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
      },
    },
    {
      event: 'content_block_delta',
      data: {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"a":1}' },
      },
    },
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 1 } },
    {
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 7 },
      },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ],
  gemini: [
    {
      data: {
        candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'hmm', thought: true }] } }],
        responseId: 'r1',
      },
    },
    { data: { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'hi thére 世😀' }] } }] } },
    {
      data: {
        candidates: [
          {
            index: 0,
            content: { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] },
            finishReason: 'STOP',
          },
        ],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
      },
    },
  ],
  bedrock: [
    { event: 'messageStart', data: { role: 'assistant' } },
    { event: 'contentBlockDelta', data: { contentBlockIndex: 0, delta: { text: 'hi thére 世😀' } } },
    { event: 'contentBlockStop', data: { contentBlockIndex: 0 } },
    {
      event: 'contentBlockStart',
      data: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tu_1', name: 'f' } } },
    },
    { event: 'contentBlockDelta', data: { contentBlockIndex: 1, delta: { toolUse: { input: '{"a":1}' } } } },
    { event: 'contentBlockStop', data: { contentBlockIndex: 1 } },
    { event: 'messageStop', data: { stopReason: 'tool_use' } },
    {
      event: 'metadata',
      data: { usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 }, metrics: { latencyMs: 1 } },
    },
  ],
};

/** Frame a stream as its backend sends it: SSE (LF or CRLF lines, `[DONE]` for OpenAI chat/completions) or Bedrock's event stream. */
export function frameStream(wire: WireName, events: WireEvent[], crlf = false): Buffer {
  if (wire === 'bedrock') {
    return Buffer.concat(
      events.map((e) =>
        encodeFrame(
          {
            ':event-type': e.event ?? 'unknown',
            ':content-type': 'application/json',
            ':message-type': 'event',
          },
          Buffer.from(JSON.stringify(e.data)),
        ),
      ),
    );
  }
  const nl = crlf ? '\r\n' : '\n';
  let out = '';
  for (const e of events) {
    if (e.event !== undefined) out += `event: ${e.event}${nl}`;
    out += `data: ${JSON.stringify(e.data)}${nl}${nl}`;
  }
  if (wire === 'openai-chat' || wire === 'openai-completions') out += `data: [DONE]${nl}${nl}`;
  return Buffer.from(out);
}

/** Values an upstream puts where it should not: wrong types, impossible counts, huge and hostile text. */
export const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    '12',
    -5,
    1e308,
    -1e308,
    0.5,
    2 ** 53,
    '',
    true,
    [],
    {},
    [null],
    { type: null },
    'x'.repeat(5000),
    '\u0000\ud800',
    'sk-test-upstream-secret-7f3a9',
    '{"a":',
    '__proto__',
  ),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
);

/** Every path to a value inside a JSON value (objects by key, arrays by index). */
export function pathsOf(v: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  out.push(at);
  if (Array.isArray(v)) for (const [i, x] of v.entries()) pathsOf(x, [...at, i], out);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
  return out;
}

/** A mutation of one value: replaced by a hostile one, or removed. */
export interface Mutation {
  pick: number;
  value: Json;
  remove: boolean;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  value: hostileValue,
  remove: fc.boolean(),
});

/** A deep copy of `v` with each mutation applied to a path chosen by its `pick`. */
export function mutate(v: Json, muts: Mutation[]): Json {
  let out = structuredClone(v);
  for (const m of muts) {
    const paths = pathsOf(out);
    const path = paths[m.pick % paths.length] as Array<string | number>;
    if (path.length === 0) {
      out = structuredClone(m.value);
      continue;
    }
    const parent = path.slice(0, -1).reduce<Json>((o, k) => (o as Record<string, Json>)[k] as Json, out);
    const key = path[path.length - 1] as string | number;
    if (Array.isArray(parent)) {
      if (m.remove) parent.splice(key as number, 1);
      else parent[key as number] = structuredClone(m.value);
    } else if (parent && typeof parent === 'object') {
      if (m.remove) delete parent[key as string];
      else parent[key as string] = structuredClone(m.value);
    }
  }
  return out;
}

/** Cut points for splitting bytes into reads (sorted, inside the buffer). */
export const cuts = fc.array(fc.nat(), { maxLength: 12 });

export function splitAt(bytes: Buffer, points: number[]): Buffer[] {
  if (bytes.length === 0) return [bytes];
  const at = [...new Set(points.map((p) => p % bytes.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    if (p <= from) continue;
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}
