// A fast OpenAI-compatible upstream on plain node:http: the fixed point every target is measured against.
// It speaks the documented wire format (chat.completion / chat.completion.chunk, `data: [DONE]`, the
// usage-only chunk when stream_options.include_usage is set) and rejects what the real API rejects
// (no key -> 401, bad JSON or missing fields -> 400), so a gateway that mangles requests fails loudly.
// Streams are 20 content chunks, each its own write with an event-loop turn between them, then one write
// holding the finish chunk, the usage chunk and the terminator.
//
// Run standalone: `node bench/mock_upstream.ts [port]` prints {"port":N} on stdout once listening.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PIECES, UPSTREAM_KEY, USAGE } from './workload.ts';

const CREATED = 1_760_000_000;
const ID = 'chatcmpl-bench0001';
const FINGERPRINT = 'fp_bench';

export interface Answers {
  whole: Buffer;
  chunks: Buffer[];
  tail: Buffer;
  tailNoUsage: Buffer;
}

function sse(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

/** Precomputed per model so the mock spends its time on I/O, not on building answers. */
export function buildAnswers(model: string): Answers {
  const whole = Buffer.from(
    JSON.stringify({
      id: ID,
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: PIECES.join(''), refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: USAGE,
      system_fingerprint: FINGERPRINT,
    }),
  );
  const base = {
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    system_fingerprint: FINGERPRINT,
  };
  const chunks = PIECES.map((content, i) =>
    Buffer.from(
      sse({
        ...base,
        choices: [
          {
            index: 0,
            delta: i === 0 ? { role: 'assistant', content } : { content },
            logprobs: null,
            finish_reason: null,
          },
        ],
      }),
    ),
  );
  const finish = sse({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] });
  const usage = sse({ ...base, choices: [], usage: USAGE });
  return {
    whole,
    chunks,
    tail: Buffer.from(finish + usage + 'data: [DONE]\n\n'),
    tailNoUsage: Buffer.from(finish + 'data: [DONE]\n\n'),
  };
}

function sendError(res: ServerResponse, status: number, type: string, message: string, param?: string): void {
  const body = JSON.stringify({ error: { message, type, param: param ?? null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `gapMs` 0: the next chunk on the next event-loop turn (as fast as the mock can, the load tests);
 * above 0: that long between chunks, like a model generating, so a gateway that keeps up reads every
 * chunk on its own whatever the machine's load (the allocation count per stream, bench/alloc.ts).
 */
async function stream(res: ServerResponse, a: Answers, includeUsage: boolean, gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  for (const c of a.chunks) {
    if (res.destroyed) return;
    res.write(c);
    await (gapMs > 0 ? pause(gapMs) : turn());
  }
  res.end(includeUsage ? a.tail : a.tailNoUsage);
}

export interface MockUpstream {
  server: Server;
  port: number;
  /** requests answered with 2xx (for sanity checks: a gateway's valid count can't exceed this) */
  stats: { ok: number; rejected: number };
  close(): Promise<void>;
}

export async function startMockUpstream(port = 0, chunkGapMs = 0): Promise<MockUpstream> {
  const answers = new Map<string, Answers>();
  const stats = { ok: 0, rejected: 0 };
  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) {
      stats.rejected++;
      return sendError(res, 401, 'invalid_request_error', 'Incorrect API key provided.');
    }
    let body: {
      model?: unknown;
      messages?: unknown;
      stream?: unknown;
      stream_options?: { include_usage?: unknown };
    };
    try {
      body = JSON.parse(raw);
    } catch {
      stats.rejected++;
      return sendError(
        res,
        400,
        'invalid_request_error',
        'We could not parse the JSON body of your request.',
      );
    }
    if (typeof body.model !== 'string' || body.model === '') {
      stats.rejected++;
      return sendError(res, 400, 'invalid_request_error', 'you must provide a model parameter', 'model');
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      stats.rejected++;
      return sendError(res, 400, 'invalid_request_error', "'messages' must be a non-empty array", 'messages');
    }
    let a = answers.get(body.model);
    if (!a) {
      a = buildAnswers(body.model);
      if (answers.size < 16) answers.set(body.model, a);
    }
    stats.ok++;
    if (body.stream === true) {
      void stream(res, a, body.stream_options?.include_usage === true, chunkGapMs);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': a.whole.length });
    res.end(a.whole);
  };
  const server = createServer({ keepAliveTimeout: 120_000 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/chat/completions') {
      return sendError(res, 404, 'invalid_request_error', `Unknown request URL: ${req.method} ${path}.`);
    }
    if (req.method !== 'POST') return sendError(res, 405, 'invalid_request_error', 'Use POST.');
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () =>
      handle(
        req,
        res,
        parts.length === 1 ? (parts[0] as Buffer).toString() : Buffer.concat(parts).toString(),
      ),
    );
  });
  server.headersTimeout = 60_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const m = await startMockUpstream(Number(process.argv[2] ?? 0), Number(process.argv[3] ?? 0));
  process.stdout.write(`${JSON.stringify({ port: m.port })}\n`);
  const stop = () => void m.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
