// A fake Anthropic Messages API (POST /v1/messages) on 127.0.0.1 that speaks the documented wire format:
// x-api-key + anthropic-version headers, request validation with errors in Anthropic's envelope
// ({"type":"error","error":{type,message}}), non-streaming `message` bodies, and streams with the exact
// event sequence (message_start, content_block_start, ping, content_block_delta*, content_block_stop,
// message_delta, message_stop). Answers are scripted per request (see `fixtures`) or derived from the
// request (text honouring max_tokens and stop_sequences, forced tool calls, JSON for output_config).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type FakeApiError, validateAnthropicRequest } from './anthropic_validate.ts';

export type FakeBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface AnthropicScript {
  /** answer with this status and an Anthropic error body instead of a message */
  status?: number;
  errorType?: string;
  retryAfter?: string;
  /** wait before sending headers */
  delayMs?: number;
  /** scripted answer (default: derived from the request) */
  content?: FakeBlock[];
  stopReason?: string;
  stopSequence?: string | null;
  usage?: FakeUsage;
  /** streaming: characters per text_delta / input_json_delta */
  textChunk?: number;
  jsonChunk?: number;
  /** streaming: where usage goes. 'start' = input in message_start, output in message_delta (classic);
   * 'delta' = message_start has zeros, message_delta every counter; 'both' = cumulative in both */
  usageIn?: 'start' | 'delta' | 'both';
  /** streaming: a ping after every n deltas */
  pingEvery?: number;
  /** streaming: an `event: error` after this many deltas, then the stream ends */
  errorAfterDeltas?: number;
  streamErrorType?: string;
  /** streaming: end the response without message_stop after this many deltas */
  truncateAfterDeltas?: number;
  /** streaming: write the bytes in pieces of this size (splits frames anywhere) */
  writeBytes?: number;
  chunkDelayMs?: number;
}

export interface AnthropicRequestRecord {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  /** the error the fake answered with, if it rejected the request */
  rejected?: FakeApiError;
  /** the caller closed the connection before the answer was complete (it cancelled the request) */
  cancelled?: boolean;
}

export interface FakeAnthropic {
  url: string;
  port: number;
  apiKey: string;
  requests: AnthropicRequestRecord[];
  /** choose the script for the n-th request (0-based) */
  setScript(fn: (req: AnthropicRequestRecord, n: number) => AnthropicScript): void;
  close(): Promise<void>;
}

/** Recorded-style answers for the tricky cases. */
export const fixtures = {
  /** a tool call whose JSON input arrives in small input_json_delta pieces */
  toolUseSplit: (): AnthropicScript => ({
    content: [
      { type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
    ],
    stopReason: 'tool_use',
    jsonChunk: 3,
    usage: { input_tokens: 120, output_tokens: 31 },
  }),
  /** text, then two tool calls: three content blocks */
  textAndTools: (): AnthropicScript => ({
    content: [
      { type: 'text', text: 'Let me check both cities.' },
      { type: 'tool_use', id: 'toolu_01B', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_01C', name: 'get_weather', input: { city: 'Tokyo' } },
    ],
    stopReason: 'tool_use',
    usage: { input_tokens: 150, output_tokens: 60 },
  }),
  /** every counter only in message_delta (message_start reports zeros) */
  usageOnlyInDelta: (): AnthropicScript => ({
    content: [{ type: 'text', text: 'Counted at the end.' }],
    usageIn: 'delta',
    usage: { input_tokens: 42, output_tokens: 5, cache_read_input_tokens: 8, cache_creation_input_tokens: 2 },
  }),
  /** prompt caching: reads and writes next to uncached input */
  cacheUsage: (): AnthropicScript => ({
    content: [{ type: 'text', text: 'Cached answer.' }],
    usage: {
      input_tokens: 10,
      output_tokens: 3,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 20,
    },
  }),
  /** pings between deltas and frames split across writes */
  pingsAndSplitFrames: (): AnthropicScript => ({
    content: [{ type: 'text', text: 'Pings do not break the answer.' }],
    pingEvery: 1,
    textChunk: 5,
    writeBytes: 7,
  }),
  /** Anthropic's mid-stream failure: an `event: error` with overloaded_error */
  errorMidStream: (): AnthropicScript => ({
    content: [{ type: 'text', text: 'This answer will not finish because the API is overloaded.' }],
    errorAfterDeltas: 2,
    streamErrorType: 'overloaded_error',
  }),
  overloaded: (): AnthropicScript => ({ status: 529, errorType: 'overloaded_error' }),
};

const WORDS = ['Hello', ' from', ' the', ' fake', ' Claude', ' model', ' with', ' words'];

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b) => (b?.type === 'text' ? b.text : JSON.stringify(b?.input ?? b?.content ?? '')))
    .join(' ');
}

/** ~4 characters a token over system + messages: deterministic, like a recorded count. */
function countInput(body: Record<string, unknown>): number {
  const msgs = (body.messages as Array<{ content: unknown }>).map((m) => textOf(m.content)).join(' ');
  return Math.max(1, Math.ceil((textOf(body.system) + msgs).length / 4));
}

/** A value that satisfies a (simple) JSON schema, for forced tool calls and structured output. */
export function sampleFor(schema: unknown): unknown {
  const s = (schema ?? {}) as Record<string, unknown>;
  switch (s.type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, sampleFor(v)]));
    }
    case 'array':
      return [sampleFor(s.items)];
    case 'number':
    case 'integer':
      return 7;
    case 'boolean':
      return true;
    default:
      return Array.isArray(s.enum) ? s.enum[0] : 'sample';
  }
}

/** The answer the fake derives from a request when no script gives one. */
function derive(body: Record<string, unknown>): {
  content: FakeBlock[];
  stop: string;
  seq: string | null;
  out: number;
} {
  const tools = (body.tools ?? []) as Array<{ name: string; input_schema: unknown }>;
  const choice = body.tool_choice as { type: string; name?: string } | undefined;
  if (choice && (choice.type === 'any' || choice.type === 'tool')) {
    const tool = tools.find((t) => choice.type === 'any' || t.name === choice.name) ?? tools[0];
    const input = sampleFor(tool?.input_schema) as Record<string, unknown>;
    return {
      content: [{ type: 'tool_use', id: 'toolu_fake_1', name: tool?.name ?? '', input }],
      stop: 'tool_use',
      seq: null,
      out: 12,
    };
  }
  const format = (body.output_config as { format?: { schema?: unknown } } | undefined)?.format;
  if (format) {
    const text = JSON.stringify(sampleFor(format.schema));
    return {
      content: [{ type: 'text', text }],
      stop: 'end_turn',
      seq: null,
      out: Math.ceil(text.length / 4),
    };
  }
  const max = body.max_tokens as number;
  let words = WORDS.slice(0, Math.min(WORDS.length, max));
  let stop = words.length < WORDS.length ? 'max_tokens' : 'end_turn';
  let seq: string | null = null;
  for (const s of (body.stop_sequences ?? []) as string[]) {
    const at = words.join('').indexOf(s);
    if (at >= 0) {
      words = [words.join('').slice(0, at)];
      stop = 'stop_sequence';
      seq = s;
      break;
    }
  }
  return {
    content: [{ type: 'text', text: words.join('') }],
    stop,
    seq,
    out: stop === 'stop_sequence' ? 2 : words.length,
  };
}

function chunks(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out.length ? out : [''];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeAnthropic(
  opts: { apiKey?: string; versions?: string[] } = {},
): Promise<FakeAnthropic> {
  const apiKey = opts.apiKey ?? 'sk-ant-test-key';
  const versions = new Set(opts.versions ?? ['2023-01-01', '2023-06-01']);
  const requests: AnthropicRequestRecord[] = [];
  let scriptFn: (req: AnthropicRequestRecord, n: number) => AnthropicScript = () => ({});
  const sockets = new Set<Socket>();
  let seq = 0;

  const sendError = (res: ServerResponse, e: FakeApiError, extra: Record<string, string> = {}) => {
    res.writeHead(e.status, {
      'content-type': 'application/json',
      'request-id': `req_fake_${seq}`,
      ...extra,
    });
    res.end(
      JSON.stringify({
        type: 'error',
        error: { type: e.type, message: e.message },
        request_id: `req_fake_${seq}`,
      }),
    );
  };

  async function serve(req: IncomingMessage, raw: string, res: ServerResponse): Promise<void> {
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const rec: AnthropicRequestRecord = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
    };
    const n = requests.length;
    requests.push(rec);
    seq++;
    res.on('close', () => {
      if (!res.writableFinished) rec.cancelled = true;
    });
    if (rec.method !== 'POST' || rec.path.split('?')[0] !== '/v1/messages') {
      rec.rejected = {
        status: 404,
        type: 'not_found_error',
        message: `Not found: ${rec.method} ${rec.path}`,
      };
      return sendError(res, rec.rejected);
    }
    const invalid = validateAnthropicRequest(req.headers, raw, { apiKey, versions });
    if (invalid) {
      rec.rejected = invalid;
      return sendError(res, invalid);
    }
    const s = scriptFn(rec, n);
    if (s.delayMs) await sleep(s.delayMs);
    if (s.status && s.status >= 400) {
      const type =
        s.errorType ??
        (s.status === 429 ? 'rate_limit_error' : s.status >= 500 ? 'api_error' : 'invalid_request_error');
      return sendError(
        res,
        { status: s.status, type, message: `injected ${s.status}` },
        s.retryAfter ? { 'retry-after': s.retryAfter } : {},
      );
    }
    const b = body as Record<string, unknown>;
    const derived = derive(b);
    const content = s.content ?? derived.content;
    const usage: Required<FakeUsage> = {
      input_tokens: s.usage?.input_tokens ?? countInput(b),
      output_tokens: s.usage?.output_tokens ?? derived.out,
      cache_creation_input_tokens: s.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: s.usage?.cache_read_input_tokens ?? 0,
    };
    const message = {
      id: `msg_fake_${String(n).padStart(4, '0')}`,
      type: 'message',
      role: 'assistant',
      model: String(b.model),
      content,
      stop_reason: s.stopReason ?? (s.content ? 'end_turn' : derived.stop),
      stop_sequence: s.stopSequence ?? (s.content ? null : derived.seq),
      usage,
    };
    if (b.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_fake_${seq}` });
      res.end(JSON.stringify(message));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    await stream(res, message, usage, s);
  }

  async function stream(
    res: ServerResponse,
    message: { content: FakeBlock[]; stop_reason: string; stop_sequence: string | null } & Record<
      string,
      unknown
    >,
    usage: Required<FakeUsage>,
    s: AnthropicScript,
  ): Promise<void> {
    const write = async (event: string, data: Record<string, unknown>) => {
      if (res.destroyed) return;
      const bytes = `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
      for (const piece of s.writeBytes ? chunks(bytes, s.writeBytes) : [bytes]) res.write(piece);
      if (s.chunkDelayMs) await sleep(s.chunkDelayMs);
    };
    const mode = s.usageIn ?? 'start';
    const startUsage =
      mode === 'delta'
        ? { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
        : { ...usage, output_tokens: 1 };
    await write('message_start', {
      message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: startUsage },
    });
    let deltas = 0;
    for (const [index, blk] of message.content.entries()) {
      const start = blk.type === 'text' ? { type: 'text', text: '' } : { ...blk, input: {} };
      await write('content_block_start', { index, content_block: start });
      if (index === 0) await write('ping', {});
      const pieces =
        blk.type === 'text'
          ? chunks(blk.text, s.textChunk ?? 4).map((text) => ({ type: 'text_delta', text }))
          : chunks(JSON.stringify(blk.input), s.jsonChunk ?? 7).map((partial_json) => ({
              type: 'input_json_delta',
              partial_json,
            }));
      for (const delta of pieces) {
        if (s.errorAfterDeltas === deltas) {
          await write('error', { error: { type: s.streamErrorType ?? 'api_error', message: 'Overloaded' } });
          res.end();
          return;
        }
        if (s.truncateAfterDeltas === deltas) {
          res.end();
          return;
        }
        await write('content_block_delta', { index, delta });
        deltas++;
        if (s.pingEvery && deltas % s.pingEvery === 0) await write('ping', {});
      }
      await write('content_block_stop', { index });
    }
    const deltaUsage = mode === 'start' ? { output_tokens: usage.output_tokens } : { ...usage };
    await write('message_delta', {
      delta: { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence },
      usage: deltaUsage,
    });
    await write('message_stop', {});
    res.end();
  }

  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      void serve(req, Buffer.concat(parts).toString('utf8'), res).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  server.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    requests,
    setScript(fn) {
      scriptFn = fn;
    },
    async close() {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
