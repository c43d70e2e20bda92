// The private upstream the warm-up talks to (runtime/warm_hot_path.ts): a Transport that answers in
// each backend API's own wire format, whole or streamed, from canned text, in this process. It is
// a Transport rather than a loopback HTTP server because the egress policy is checked on every
// connection and the chart's default denies 127.0.0.0/8: a loopback upstream would either be
// refused or need an egress exception, and an exception is a hole real traffic could use.
// It checks what it receives (a JSON body that names the model, in the body or the path) so a
// translator that builds a broken request fails the warm-up loudly instead of warming an error path.
import type { BackendApi, UpstreamRequest } from '../providers/types.ts';
import type { CancelSignal } from '../proxy/cancellation.ts';
import type { EffectiveTimeouts, Transport, UpstreamResponse } from '../proxy/transport.ts';
import { bodyOf } from '../proxy/upstream_body.ts';
import { encodeMessage, loadEventStreamCodec } from '../wire/bedrock/eventstream.ts';

const TEXT = ['Warm', 'ing', ' up', '.'];
/** a piece of every answer a client gets back (the warm-up checks the translators kept it) */
export const WARM_TEXT = TEXT[0] as string;
const IN = 12;
const OUT = TEXT.length;
const JSON_TYPE = { 'content-type': 'application/json' };
const SSE_TYPE = { 'content-type': 'text/event-stream' };

type Body = Record<string, unknown>;

function answer(status: number, headers: Record<string, string>, chunks: Buffer[]): UpstreamResponse {
  return { status, headers, body: bodyOf(chunks) };
}

function whole(json: unknown): UpstreamResponse {
  return answer(200, JSON_TYPE, [Buffer.from(JSON.stringify(json))]);
}

/** One network read per event, as a real stream arrives, so the translators' buffering runs too. */
function sse(events: Array<[string | undefined, unknown]>): UpstreamResponse {
  const chunks = events.map(([event, data]) =>
    Buffer.from(
      `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
    ),
  );
  return answer(200, SSE_TYPE, chunks);
}

function openai(path: string, body: Body): UpstreamResponse {
  const model = String(body.model);
  const usage = { prompt_tokens: IN, completion_tokens: OUT, total_tokens: IN + OUT };
  if (path.includes('/embeddings')) {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const data = inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] }));
    return whole({ object: 'list', data, model, usage: { prompt_tokens: IN, total_tokens: IN } });
  }
  if (path.includes('/responses')) return openaiResponses(model, body.stream === true);
  const completions = /\/completions(\?|$)/.test(path) && !path.includes('/chat/completions');
  const base = { id: 'warm-1', created: 0, model };
  if (body.stream !== true) {
    const text = TEXT.join('');
    const choice = completions
      ? { index: 0, text, finish_reason: 'stop', logprobs: null }
      : { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null };
    const object = completions ? 'text_completion' : 'chat.completion';
    return whole({ ...base, object, choices: [choice], usage });
  }
  const object = completions ? 'text_completion' : 'chat.completion.chunk';
  const delta = (t: string, i: number) =>
    completions
      ? { index: 0, text: t, finish_reason: null }
      : {
          index: 0,
          delta: i === 0 ? { role: 'assistant', content: t } : { content: t },
          finish_reason: null,
        };
  const events: Array<[undefined, unknown]> = TEXT.map((t, i) => [
    undefined,
    { ...base, object, choices: [delta(t, i)] },
  ]);
  const end = completions
    ? { index: 0, text: '', finish_reason: 'stop' }
    : { index: 0, delta: {}, finish_reason: 'stop' };
  events.push([undefined, { ...base, object, choices: [end] }]);
  events.push([undefined, { ...base, object, choices: [], usage }]);
  events.push([undefined, '[DONE]']);
  return sse(events);
}

function openaiResponses(model: string, stream: boolean): UpstreamResponse {
  const text = TEXT.join('');
  const part = { type: 'output_text', text, annotations: [] };
  const item = { type: 'message', id: 'msg_warm', status: 'completed', role: 'assistant', content: [part] };
  const usage = { input_tokens: IN, output_tokens: OUT, total_tokens: IN + OUT };
  const done = {
    id: 'resp_warm',
    object: 'response',
    created_at: 0,
    status: 'completed',
    model,
    output: [item],
    usage,
  };
  if (!stream) return whole(done);
  const pending = { ...done, status: 'in_progress', output: [], usage: null };
  const at = { output_index: 0, item_id: 'msg_warm', content_index: 0 };
  let seq = 0;
  const ev = (type: string, data: Body): [string, unknown] => [
    type,
    { type, sequence_number: seq++, ...data },
  ];
  return sse([
    ev('response.created', { response: pending }),
    ev('response.output_item.added', {
      output_index: 0,
      item: { ...item, status: 'in_progress', content: [] },
    }),
    ev('response.content_part.added', { ...at, part: { ...part, text: '' } }),
    ...TEXT.map((delta) => ev('response.output_text.delta', { ...at, delta })),
    ev('response.output_text.done', { ...at, text }),
    ev('response.content_part.done', { ...at, part }),
    ev('response.output_item.done', { output_index: 0, item }),
    ev('response.completed', { response: done }),
  ]);
}

function anthropic(body: Body): UpstreamResponse {
  const model = String(body.model);
  const message = { id: 'msg_warm', type: 'message', role: 'assistant', model, stop_sequence: null };
  if (body.stream !== true) {
    const content = [{ type: 'text', text: TEXT.join('') }];
    return whole({
      ...message,
      content,
      stop_reason: 'end_turn',
      usage: { input_tokens: IN, output_tokens: OUT },
    });
  }
  const ev = (type: string, data: Body): [string, unknown] => [type, { type, ...data }];
  return sse([
    ev('message_start', {
      message: { ...message, content: [], stop_reason: null, usage: { input_tokens: IN, output_tokens: 1 } },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...TEXT.map((text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } })),
    ev('content_block_stop', { index: 0 }),
    ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: OUT },
    }),
    ev('message_stop', {}),
  ]);
}

function gemini(path: string, body: Body): UpstreamResponse {
  if (path.includes(':batchEmbedContents')) {
    const n = Array.isArray(body.requests) ? body.requests.length : 1;
    return whole({ embeddings: Array.from({ length: n }, () => ({ values: [0.1, 0.2, 0.3] })) });
  }
  const usageMetadata = { promptTokenCount: IN, candidatesTokenCount: OUT, totalTokenCount: IN + OUT };
  const candidate = (text: string, finishReason?: string) => ({
    content: { role: 'model', parts: [{ text }] },
    index: 0,
    ...(finishReason ? { finishReason } : {}),
  });
  if (!path.includes(':streamGenerateContent'))
    return whole({ candidates: [candidate(TEXT.join(''), 'STOP')], usageMetadata, modelVersion: 'warm' });
  return sse(
    TEXT.map((t, i) => [
      undefined,
      i === TEXT.length - 1
        ? { candidates: [candidate(t, 'STOP')], usageMetadata }
        : { candidates: [candidate(t)] },
    ]),
  );
}

function bedrock(path: string): UpstreamResponse {
  const usage = { inputTokens: IN, outputTokens: OUT, totalTokens: IN + OUT };
  if (!path.endsWith('/converse-stream')) {
    const message = { role: 'assistant', content: [{ text: TEXT.join('') }] };
    return whole({ output: { message }, stopReason: 'end_turn', usage, metrics: { latencyMs: 1 } });
  }
  const frame = (type: string, payload: Body) =>
    encodeMessage(
      { ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' },
      Buffer.from(JSON.stringify(payload)),
    );
  return answer(200, { 'content-type': 'application/vnd.amazon.eventstream' }, [
    frame('messageStart', { role: 'assistant' }),
    ...TEXT.map((text) => frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text } })),
    frame('contentBlockStop', { contentBlockIndex: 0 }),
    frame('messageStop', { stopReason: 'end_turn' }),
    frame('metadata', { usage, metrics: { latencyMs: 1 } }),
  ]);
}

/** Answers every request of one backend API; counts them and remembers what it refused. */
export class WarmUpstream implements Transport {
  readonly #api: BackendApi;
  readonly #model: string;
  /** the built-in mock provider answers through its own transport, which is warmed too */
  readonly #delegate: Transport | undefined;
  /** requests answered, and the problems found in what was sent (a translator's broken request) */
  received = 0;
  readonly problems: string[] = [];

  constructor(api: BackendApi, model: string, delegate?: Transport) {
    this.#api = api;
    this.#model = model;
    this.#delegate = delegate;
  }

  async send(req: UpstreamRequest, _signal: CancelSignal, _t: EffectiveTimeouts): Promise<UpstreamResponse> {
    this.received++;
    let body: Body;
    try {
      body = JSON.parse(String(req.body)) as Body;
    } catch {
      this.problems.push(`${this.#api} ${req.path}: the body is not JSON`);
      return answer(400, JSON_TYPE, [Buffer.from('{"error":{"message":"warm-up: body is not JSON"}}')]);
    }
    if (body.model !== this.#model && !req.path.includes(this.#model)) {
      this.problems.push(`${this.#api} ${req.path}: the request does not name the model`);
      return answer(400, JSON_TYPE, [Buffer.from('{"error":{"message":"warm-up: no model"}}')]);
    }
    if (this.#delegate) return this.#delegate.send(req, _signal, _t);
    switch (this.#api) {
      case 'openai':
        return openai(req.path, body);
      case 'anthropic':
        return anthropic(body);
      case 'gemini':
        return gemini(req.path, body);
      case 'bedrock':
        // the event-stream codec is loaded on first use (wire/bedrock/eventstream.ts)
        await loadEventStreamCodec();
        return bedrock(req.path);
    }
  }

  async close(): Promise<void> {}
}
