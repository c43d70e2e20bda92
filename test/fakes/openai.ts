// A fake OpenAI-compatible upstream that follows OpenAI's documented wire format (chat completions,
// completions, embeddings, models; SSE streaming with a role chunk, content deltas, a finish chunk, an
// optional usage chunk and `data: [DONE]`), validates requests like the real API (Bearer key, model,
// messages) and injects faults per request: status codes with Retry-After, delays before headers,
// resets mid-stream, stalls, malformed frames, truncated JSON and oversized bodies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Fault {
  /** answer with this status and an OpenAI error body */
  status?: number;
  retryAfter?: string;
  /** wait before sending headers */
  delayMs?: number;
  /** tokens in the answer (default 8) */
  tokens?: number;
  /** wait between stream chunks */
  chunkDelayMs?: number;
  /** streaming: send the headers at once, then wait this long before the first chunk (a model thinking) */
  firstChunkDelayMs?: number;
  /** destroy the socket after this many content chunks */
  resetAfterChunks?: number;
  /** stop sending (but keep the socket open) after this many content chunks */
  stallAfterChunks?: number;
  /** send a frame that is not JSON after this many content chunks */
  malformedAfterChunks?: number;
  /** end the stream cleanly but without a finish chunk or [DONE] after this many chunks */
  truncateAfterChunks?: number;
  /** non-streaming: send only the first half of the JSON body */
  truncatedJson?: boolean;
  /** non-streaming: pad the content to this many bytes */
  bodyBytes?: number;
  /** omit usage everywhere (as some compatible servers do) */
  noUsage?: boolean;
  /** answer with `tokens` tokens whatever max_tokens says (some compatible servers ignore it) */
  ignoreMaxTokens?: boolean;
  /** report this many prompt tokens instead of the prompt's length */
  promptTokens?: number;
  /** report usage.prompt_tokens_details.cached_tokens (compatible servers may report more than prompt_tokens) */
  cachedTokens?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> | undefined;
  /** true when the client went away before the response finished */
  aborted: boolean;
}

export interface FakeOpenAI {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** choose the fault for the n-th request (0-based) */
  setFault(fn: (req: RecordedRequest, n: number) => Fault): void;
  openSockets(): number;
  /** responses started and neither finished nor closed: upstream work a gateway left hanging */
  activeResponses(): number;
  /** the most responses that were ever active at once (what a concurrency limit must bound) */
  peakActive(): number;
  close(): Promise<void>;
}

const WORDS = ['Hello', ' from', ' the', ' fake', ' upstream', ' server', ' with', ' tokens'];

function answerWords(n: number, name: string): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? `[${name}]` : (WORDS[i % WORDS.length] ?? ' x')));
}

function errorJson(
  res: ServerResponse,
  status: number,
  message: string,
  extra: Record<string, string> = {},
): void {
  const type =
    status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  res.writeHead(status, { 'content-type': 'application/json', ...extra });
  res.end(JSON.stringify({ error: { message, type, param: null, code: type } }));
}

/** What OpenAI refuses with a 400 (401 for a wrong key), in its words; undefined when it would serve. */
export function validateOpenAIRequest(req: RecordedRequest, apiKey: string | undefined): string | undefined {
  if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`)
    return 'Incorrect API key provided';
  const b = req.body;
  if (!b) return 'We could not parse the JSON body of your request.';
  if (typeof b.model !== 'string') return 'you must provide a model parameter';
  if (req.path.endsWith('/chat/completions') && (!Array.isArray(b.messages) || b.messages.length === 0)) {
    return "'messages' is a required property";
  }
  if (req.path.endsWith('/embeddings') && b.input === undefined) return "'input' is a required property";
  // function names: at most 64 characters (the API reference), code string_above_max_length
  const tools = Array.isArray(b.tools) ? (b.tools as Array<{ function?: { name?: unknown } }>) : [];
  for (const [i, t] of tools.entries()) {
    const fn = t.function?.name;
    if (typeof fn === 'string' && fn.length > 64)
      return `Invalid 'tools[${i}].function.name': string too long. Expected a string with maximum length 64, but got a string with length ${fn.length} instead.`;
  }
  // tool call ids of earlier turns: at most 40 characters (OpenAI's 400 to conversations that carried
  // another provider's ids, e.g. vercel/ai#5171, agno#5382), code string_above_max_length
  const messages = Array.isArray(b.messages) ? (b.messages as Array<Record<string, unknown>>) : [];
  for (const [i, m] of messages.entries()) {
    const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as Array<{ id?: unknown }>) : [];
    for (const [j, c] of calls.entries())
      if (typeof c.id === 'string' && c.id.length > 40)
        return `Invalid 'messages[${i}].tool_calls[${j}].id': string too long. Expected a string with maximum length 40, but got a string with length ${c.id.length} instead.`;
  }
  // chat and legacy completions: "Up to 4 sequences" (the API reference), code array_above_max_length
  if (Array.isArray(b.stop) && b.stop.length > 4)
    return `Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length ${b.stop.length} instead.`;
  if (b.stream_options !== undefined && b.stream !== true)
    return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
  return undefined;
}

export async function startFakeOpenAI(opts: { name?: string; apiKey?: string } = {}): Promise<FakeOpenAI> {
  const name = opts.name ?? 'fake';
  const requests: RecordedRequest[] = [];
  let faultFn: (req: RecordedRequest, n: number) => Fault = () => ({});
  const sockets = new Set<Socket>();
  let active = 0;
  let peak = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> | undefined;
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
      } catch {
        body = undefined;
      }
      const rec: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        aborted: false,
      };
      const n = requests.length;
      requests.push(rec);
      active++;
      peak = Math.max(peak, active);
      res.on('close', () => {
        active--;
        if (!res.writableFinished) rec.aborted = true;
      });
      void serve(rec, faultFn(rec, n), res);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function serve(rec: RecordedRequest, f: Fault, res: ServerResponse): Promise<void> {
    if (f.delayMs) await sleep(f.delayMs);
    if (res.destroyed) return;
    if (rec.method === 'GET' && rec.path.endsWith('/models')) {
      res.writeHead(f.status ?? 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: name }],
        }),
      );
      return;
    }
    if (f.status && f.status >= 400) {
      errorJson(
        res,
        f.status,
        `injected ${f.status} from ${name}`,
        f.retryAfter ? { 'retry-after': f.retryAfter } : {},
      );
      return;
    }
    const invalid = validateOpenAIRequest(rec, opts.apiKey);
    if (invalid) {
      errorJson(res, invalid.includes('API key') ? 401 : 400, invalid);
      return;
    }
    const body = rec.body as Record<string, unknown>;
    const model = String(body.model);
    const maxTokens = f.ignoreMaxTokens
      ? Number.POSITIVE_INFINITY
      : Number(body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY);
    const want = f.tokens ?? 8;
    const n = Math.min(want, maxTokens);
    const finish = n < want ? 'length' : 'stop';
    const words = answerWords(n, name);
    const promptTokens = f.promptTokens ?? JSON.stringify(body.messages ?? body.prompt ?? body.input).length;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: n,
      total_tokens: promptTokens + n,
      ...(f.cachedTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: f.cachedTokens } }),
    };
    const id = `chatcmpl-${name}-${requests.length}`;
    const created = 1_700_000_000;

    if (rec.path.endsWith('/embeddings')) {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          model,
          data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0, 1, 0.5] })),
          usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        }),
      );
      return;
    }
    const isChat = rec.path.endsWith('/chat/completions');
    if (body.stream !== true) {
      let content = words.join('');
      if (f.bodyBytes) content = content.padEnd(f.bodyBytes, 'x');
      const choice = isChat
        ? {
            index: 0,
            message: { role: 'assistant', content, refusal: null },
            logprobs: null,
            finish_reason: finish,
          }
        : { index: 0, text: content, logprobs: null, finish_reason: finish };
      const json = JSON.stringify({
        id,
        object: isChat ? 'chat.completion' : 'text_completion',
        created,
        model,
        choices: [choice],
        ...(f.noUsage ? {} : { usage }),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(f.truncatedJson ? json.slice(0, Math.floor(json.length / 2)) : json);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (f.firstChunkDelayMs) {
      res.flushHeaders();
      await sleep(f.firstChunkDelayMs);
    }
    const object = isChat ? 'chat.completion.chunk' : 'text_completion';
    const frame = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object, created, model, system_fingerprint: 'fp_fake', choices, ...extra })}\n\n`;
    const includeUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    for (let i = 0; i < words.length; i++) {
      if (res.destroyed) return;
      if (f.resetAfterChunks === i) {
        res.socket?.destroy();
        return;
      }
      if (f.stallAfterChunks === i) return; // keep the socket open, send nothing more
      if (f.malformedAfterChunks === i) {
        res.write('data: {"id": "broken", "choices": [\n\n');
      }
      if (f.truncateAfterChunks === i) {
        res.end();
        return;
      }
      const w = words[i] ?? '';
      const delta = isChat
        ? {
            index: 0,
            delta: i === 0 ? { role: 'assistant', content: w } : { content: w },
            logprobs: null,
            finish_reason: null,
          }
        : { index: 0, text: w, finish_reason: null };
      res.write(frame([delta], includeUsage ? { usage: null } : {}));
      if (f.chunkDelayMs) await sleep(f.chunkDelayMs);
    }
    if (res.destroyed) return;
    const last = isChat
      ? { index: 0, delta: {}, logprobs: null, finish_reason: finish }
      : { index: 0, text: '', finish_reason: finish };
    res.write(frame([last], includeUsage ? { usage: null } : {}));
    if (includeUsage && !f.noUsage) res.write(frame([], { usage }));
    res.end('data: [DONE]\n\n');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    setFault(fn) {
      faultFn = fn;
    },
    openSockets: () => sockets.size,
    activeResponses: () => active,
    peakActive: () => peak,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
