// A fake vLLM pod: OpenAI chat completions (whole and streamed, as vLLM's OpenAI server answers them),
// GET /v1/models and /health, and /metrics in Prometheus text with vLLM's load gauges
// (vllm:num_requests_waiting, vllm:num_requests_running, vllm:kv_cache_usage_perc). It checks what it
// receives (POST JSON with a model this pod serves and non-empty messages) and counts what it served,
// so tests can see which pod got which request. Binds 127.0.0.1 on its own port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeVllm {
  name: string;
  port: number;
  /** chat completions answered with 200 */
  served: number;
  /** requests that broke the wire format (a test failure, never expected) */
  invalid: string[];
  /** chat completions currently being answered */
  running: number;
  /** what /metrics reports as waiting, on top of nothing (a long queue) */
  waiting: number;
  kvUsage: number;
  /** answer chat completions with this status instead (e.g. 500) */
  failWith: number | undefined;
  delayMs: number;
  /** /health and /v1/models answer 503 (the engine is wedged) */
  unhealthy: boolean;
  /** chat completions received, whatever the answer */
  received: number;
  metricsScrapes: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy(new Error('body too large'));
      else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function metricsText(f: FakeVllm, model: string): string {
  const l = `{engine="0",model_name="${model}"}`;
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running${l} ${f.running.toFixed(1)}`,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting${l} ${f.waiting.toFixed(1)}`,
    '# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc${l} ${f.kvUsage}`,
    '# HELP vllm:prompt_tokens_total Number of prefill tokens processed.',
    '# TYPE vllm:prompt_tokens_total counter',
    `vllm:prompt_tokens_total${l} ${f.served * 12}.0`,
    '',
  ].join('\n');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startFakeVllm(name: string, model = 'llama-3-8b'): Promise<FakeVllm> {
  const sockets = new Set<Socket>();
  const f: FakeVllm = {
    name,
    port: 0,
    served: 0,
    invalid: [],
    running: 0,
    waiting: 0,
    kvUsage: 0,
    failWith: undefined,
    delayMs: 0,
    unhealthy: false,
    received: 0,
    metricsScrapes: 0,
    close: async () => {},
  };
  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      f.metricsScrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(metricsText(f, model));
      return;
    }
    if (req.method === 'GET' && path === '/health') return void res.writeHead(f.unhealthy ? 503 : 200).end();
    if (req.method === 'GET' && path === '/v1/models' && f.unhealthy)
      return json(res, 503, { error: { message: 'engine is dead', type: 'ServiceUnavailableError' } });
    if (req.method === 'GET' && path === '/v1/models')
      return json(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'vllm' }] });
    if (req.method !== 'POST' || path !== '/v1/chat/completions')
      return json(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'NotFoundError' } });
    let body: { model?: unknown; messages?: unknown; stream?: unknown };
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      f.invalid.push('body is not JSON');
      return json(res, 400, { error: { message: 'invalid JSON', type: 'BadRequestError' } });
    }
    f.received++;
    if (!String(req.headers['content-type']).startsWith('application/json')) f.invalid.push('content-type');
    if (body.model !== model) f.invalid.push(`model ${String(body.model)}`);
    if (!Array.isArray(body.messages) || body.messages.length === 0) f.invalid.push('messages');
    if (f.failWith !== undefined)
      return json(res, f.failWith, { error: { message: 'engine dead', type: 'InternalServerError' } });
    f.running++;
    try {
      if (f.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
      const id = `chatcmpl-${name}-${f.served}`;
      const created = Math.floor(Date.now() / 1000);
      const text = `[${name}] hello`;
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (delta: Record<string, unknown>, finish: string | null) =>
          `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.write(chunk({ role: 'assistant', content: '' }, null));
        res.write(chunk({ content: text }, null));
        res.write(chunk({}, 'stop'));
        res.end('data: [DONE]\n\n');
      } else {
        json(res, 200, {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
        });
      }
      f.served++;
    } finally {
      f.running--;
    }
  };
  const server: Server = createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  f.port = (server.address() as AddressInfo).port;
  f.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 2_000).unref();
    });
  return f;
}
