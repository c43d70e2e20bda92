// Finding 3 of the adversarial review: a provider that echoes its key in an error handed the key to the
// client (401, 500, streams, /v1/messages, every provider type). Here one fake upstream per provider
// type speaks that provider's wire format, checks the credentials it receives (Bearer, api-key,
// x-api-key + anthropic-version, x-goog-api-key, a SigV4 signature checked by an independent verifier)
// and then puts the very key it received into its error: whole answers (401/400/500) and errors inside
// streams (OpenAI error chunks, Anthropic `event: error`, Gemini error objects, Bedrock exception
// frames). Through a real `sluice serve` process and the official openai and @anthropic-ai/sdk clients:
// no key, and no 8-character piece of one, reaches the client or the dataplane's logs, while the
// provider's status, type, code and param do, and Sluice's own code rides in x-sluice-error-code.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../fakes/bedrock.ts';
import { verifySigV4 } from '../fakes/sigv4_verify.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const b62 = (n: number) =>
  Array.from(
    randomBytes(n),
    (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62],
  ).join('');
// Fresh per run (never in the repo). The Azure key and the AWS secret have no recognisable prefix:
// only the configured-secret matcher can find them.
const KEYS = {
  openai: `sk-proj-${b62(40)}`,
  azure: randomBytes(16).toString('hex'),
  anthropic: `sk-ant-api03-${b62(60)}`,
  gemini: `AIza${b62(35)}`,
  awsAccess: `AKIA${b62(16).toUpperCase()}`,
  awsSecret: b62(40),
  awsSession: b62(120),
};
const ALL_KEYS = Object.values(KEYS);

/** Every 8-character window of every key: a piece that long is a leak too. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const k of ALL_KEYS)
    for (let i = 0; i + 8 <= k.length; i++)
      if (text.includes(k.slice(i, i + 8))) found.push(k.slice(i, i + 8));
  return found;
}

type Mode = 'leak-401' | 'leak-400' | 'leak-500' | 'leak-stream';
const modeOf = (model: string): Mode => (model.replace(/^[a-z]+-/, '') as Mode) ?? 'leak-401';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

/** OpenAI and Azure: the key was presented in `presented`; echo it like a careless provider would. */
function openaiLike(res: ServerResponse, mode: Mode, presented: string): void {
  const msg = `Incorrect API key provided: ${presented}. You can find your API key at https://platform.example/keys.`;
  if (mode === 'leak-401')
    return void json(res, 401, {
      error: { message: msg, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    });
  if (mode === 'leak-400')
    return void json(res, 400, {
      error: {
        message: `This model's maximum context length is 8192 tokens (key ${presented})`,
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    });
  if (mode === 'leak-500')
    return void json(res, 500, {
      error: {
        message: `upstream crashed handling ${presented}`,
        type: 'server_error',
        param: null,
        code: null,
      },
    });
  sse(res);
  res.write(
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] })}\n\n`,
  );
  res.end(
    `data: ${JSON.stringify({ error: { message: `stream failed for key ${presented}`, type: 'server_error', param: null, code: 'stream_broken' } })}\n\n`,
  );
}

function anthropicLike(res: ServerResponse, mode: Mode, presented: string): void {
  if (mode === 'leak-401')
    return void json(res, 401, {
      type: 'error',
      error: { type: 'authentication_error', message: `invalid x-api-key: ${presented}` },
    });
  if (mode === 'leak-400')
    return void json(res, 400, {
      type: 'error',
      error: { type: 'invalid_request_error', message: `prompt is too long (account key ${presented})` },
    });
  if (mode === 'leak-500')
    return void json(res, 529, {
      type: 'error',
      error: { type: 'overloaded_error', message: `Overloaded for ${presented}` },
    });
  sse(res);
  const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  res.write(
    ev('message_start', {
      type: 'message_start',
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 5, output_tokens: 1 },
      },
    }) +
      ev('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }) +
      ev('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'Hi' },
      }),
  );
  res.end(
    ev('error', {
      type: 'error',
      error: { type: 'overloaded_error', message: `Overloaded; key ${presented}` },
    }),
  );
}

function geminiLike(res: ServerResponse, mode: Mode, presented: string): void {
  if (mode === 'leak-401' || mode === 'leak-400')
    return void json(res, 400, {
      error: { code: 400, message: `API key not valid: ${presented}`, status: 'INVALID_ARGUMENT' },
    });
  if (mode === 'leak-500')
    return void json(res, 500, {
      error: { code: 500, message: `Internal error for ${presented}`, status: 'INTERNAL' },
    });
  sse(res);
  res.write(
    `data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'Hi' }] }, index: 0 }], modelVersion: 'gemini' })}\n\n`,
  );
  res.end(
    `data: ${JSON.stringify({ error: { code: 503, message: `backend unavailable for ${presented}`, status: 'UNAVAILABLE' } })}\n\n`,
  );
}

function bedrockLike(res: ServerResponse, mode: Mode): void {
  const secretMsg = `The security token ${KEYS.awsSession} signed with ${KEYS.awsSecret} by ${KEYS.awsAccess} is invalid.`;
  if (mode === 'leak-401' || mode === 'leak-400')
    return void json(
      res,
      403,
      { message: secretMsg },
      { 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/' },
    );
  if (mode === 'leak-500')
    return void json(
      res,
      500,
      { message: `InternalServerException for ${KEYS.awsSecret}` },
      { 'x-amzn-errortype': 'InternalServerException' },
    );
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
  res.write(
    encodeFrame(
      { ':event-type': 'messageStart', ':content-type': 'application/json', ':message-type': 'event' },
      Buffer.from(JSON.stringify({ role: 'assistant' })),
    ),
  );
  res.write(
    encodeFrame(
      { ':event-type': 'contentBlockDelta', ':content-type': 'application/json', ':message-type': 'event' },
      Buffer.from(JSON.stringify({ contentBlockIndex: 0, delta: { text: 'Hi' } })),
    ),
  );
  res.end(
    encodeFrame(
      {
        ':exception-type': 'throttlingException',
        ':content-type': 'application/json',
        ':message-type': 'exception',
      },
      Buffer.from(JSON.stringify({ message: `Too many requests: ${secretMsg}` })),
    ),
  );
}

/** The requests the fake refused because of their credentials (must stay empty: the test checks). */
const refused: string[] = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const url = req.url ?? '';
  const h = (n: string) =>
    (Array.isArray(req.headers[n]) ? req.headers[n]?.[0] : req.headers[n]) as string | undefined;
  const parsed = body.length ? (JSON.parse(body.toString()) as { model?: string; stream?: boolean }) : {};
  if (url.startsWith('/openai/deployments/')) {
    // Azure: deployment in the path, api-version in the query, the key in the api-key header
    if (h('api-key') !== KEYS.azure || !url.includes('api-version=')) refused.push(`azure ${url}`);
    return void openaiLike(res, modeOf(decodeURIComponent(url.split('/')[3] ?? '')), h('api-key') ?? '');
  }
  if (url === '/v1/chat/completions') {
    if (h('authorization') !== `Bearer ${KEYS.openai}`) refused.push('openai auth');
    return void openaiLike(res, modeOf(parsed.model ?? ''), KEYS.openai);
  }
  if (url === '/v1/messages') {
    if (h('x-api-key') !== KEYS.anthropic || !h('anthropic-version')) refused.push('anthropic auth');
    return void anthropicLike(res, modeOf(parsed.model ?? ''), h('x-api-key') ?? '');
  }
  const gem = /^\/v1beta\/models\/([^:]+):(generateContent|streamGenerateContent\?alt=sse)$/.exec(url);
  if (gem) {
    if (h('x-goog-api-key') !== KEYS.gemini) refused.push('gemini auth');
    return void geminiLike(res, modeOf(decodeURIComponent(gem[1] ?? '')), h('x-goog-api-key') ?? '');
  }
  const bed = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(url);
  if (bed) {
    const bad = verifySigV4(req.method ?? 'POST', url, req.headers, body, {
      accessKeyId: KEYS.awsAccess,
      secretAccessKey: KEYS.awsSecret,
      sessionToken: KEYS.awsSession,
      region: 'us-east-1',
      service: 'bedrock',
    });
    if (bad) refused.push(`bedrock ${bad.message}`);
    return void bedrockLike(res, modeOf(decodeURIComponent(bed[1] ?? '')));
  }
  json(res, 404, { error: { message: `no such path ${url}` } });
}

let upstream: Server;
let cfg: TestConfigDir;
let dp: DataplaneProcess;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  upstream = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const breaker = { consecutiveFailures: 1000 };
  const env = {
    KEY_OPENAI: KEYS.openai,
    KEY_AZURE: KEYS.azure,
    KEY_ANTHROPIC: KEYS.anthropic,
    KEY_GEMINI: KEYS.gemini,
    KEY_AWS_ACCESS: KEYS.awsAccess,
    KEY_AWS_SECRET: KEYS.awsSecret,
    KEY_AWS_SESSION: KEYS.awsSession,
  };
  const route = (name: string) => ({
    name,
    match: { models: [`${name}-*`] },
    backends: [{ provider: name }],
    retry: { attempts: 0 },
  });
  cfg = configDir({
    providers: [
      {
        name: 'oai',
        type: 'openai',
        baseUrl: `${base}/v1`,
        credentials: { apiKey: { env: 'KEY_OPENAI' } },
        circuitBreaker: breaker,
      },
      {
        name: 'az',
        type: 'azure-openai',
        baseUrl: base,
        credentials: { apiKey: { env: 'KEY_AZURE' } },
        circuitBreaker: breaker,
      },
      {
        name: 'ant',
        type: 'anthropic',
        baseUrl: base,
        credentials: { apiKey: { env: 'KEY_ANTHROPIC' } },
        circuitBreaker: breaker,
      },
      {
        name: 'gem',
        type: 'gemini',
        baseUrl: `${base}/v1beta`,
        credentials: { apiKey: { env: 'KEY_GEMINI' } },
        circuitBreaker: breaker,
      },
      {
        name: 'bed',
        type: 'bedrock',
        baseUrl: base,
        region: 'us-east-1',
        credentials: {
          accessKeyId: { env: 'KEY_AWS_ACCESS' },
          secretAccessKey: { env: 'KEY_AWS_SECRET' },
          sessionToken: { env: 'KEY_AWS_SESSION' },
        },
        circuitBreaker: breaker,
      },
    ],
    routes: ['oai', 'az', 'ant', 'gem', 'bed'].map(route),
  });
  dp = await spawnDataplane(cfg.file, env);
  openai = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: dp.url, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await new Promise((r) => upstream?.close(r));
});

const PROVIDERS = ['oai', 'az', 'ant', 'gem', 'bed'] as const;
const hello = [{ role: 'user' as const, content: 'hello' }];

interface Seen {
  status: number | undefined;
  sluiceCode: string | null | undefined;
  body: unknown;
  text: string;
}

async function chat(model: string, stream: boolean): Promise<Seen> {
  try {
    if (!stream) {
      const r = await openai.chat.completions.create({ model, messages: hello });
      return { status: 200, sluiceCode: undefined, body: r, text: JSON.stringify(r) };
    }
    let text = '';
    const s = await openai.chat.completions.create({ model, messages: hello, stream: true });
    for await (const c of s) text += JSON.stringify(c);
    return { status: 200, sluiceCode: undefined, body: undefined, text };
  } catch (err) {
    const e = err as InstanceType<typeof OpenAI.APIError>;
    return {
      status: e.status,
      sluiceCode: e.headers?.get('x-sluice-error-code'),
      body: e.error,
      text: `${e.message} ${JSON.stringify(e.error)} ${JSON.stringify(Object.fromEntries(e.headers ?? []))}`,
    };
  }
}

describe('provider keys never reach an OpenAI client (official openai SDK)', () => {
  for (const p of PROVIDERS) {
    for (const mode of ['leak-401', 'leak-400', 'leak-500'] as const) {
      it(`${p}: whole answer, upstream ${mode}`, async () => {
        const seen = await chat(`${p}-${mode}`, false);
        expect(leaks(seen.text), seen.text).toEqual([]);
        expect(seen.text).toContain('[redacted]');
        expect(seen.sluiceCode).toMatch(/^SLUICE_ERR_UPSTREAM_/);
        expect(seen.text).toContain(`provider '${p}' answered`);
      });
    }
    it(`${p}: error inside a started stream`, async () => {
      const seen = await chat(`${p}-leak-stream`, true);
      expect(leaks(seen.text), seen.text).toEqual([]);
      expect(seen.text).toContain('failed mid-stream');
      expect(seen.text).toContain('[redacted]');
    });
  }

  it("keeps the provider's status, type, code and param (OpenAI backend)", async () => {
    const ctx = await chat('oai-leak-400', false);
    expect(ctx.status).toBe(400);
    expect(ctx.body).toMatchObject({
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      param: 'messages',
    });
    expect(ctx.sluiceCode).toBe('SLUICE_ERR_UPSTREAM_REJECTED');
    const auth = await chat('az-leak-401', false);
    expect(auth.status).toBe(401);
    expect(auth.body).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', param: null });
  });

  it("keeps each family's code, translated to the OpenAI shape", async () => {
    expect((await chat('ant-leak-401', false)).body).toMatchObject({
      type: 'authentication_error',
      code: 'authentication_error',
    });
    // Anthropic's overloaded_error is OpenAI's server_error; the status is the gateway's 502
    const overloaded = await chat('ant-leak-500', false);
    expect([overloaded.status, overloaded.sluiceCode]).toEqual([502, 'SLUICE_ERR_UPSTREAM_ERROR']);
    expect(overloaded.body).toMatchObject({ type: 'server_error', code: 'overloaded_error' });
    expect((await chat('gem-leak-400', false)).body).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const bed = await chat('bed-leak-401', false);
    expect(bed.status).toBe(403);
    expect(bed.body).toMatchObject({ type: 'permission_error' });
  });
});

describe('provider keys never reach an Anthropic client (official @anthropic-ai/sdk, /v1/messages)', () => {
  async function message(model: string, stream: boolean): Promise<Seen> {
    try {
      if (!stream) {
        const r = await anthropic.messages.create({ model, max_tokens: 16, messages: hello });
        return { status: 200, sluiceCode: undefined, body: r, text: JSON.stringify(r) };
      }
      await anthropic.messages.stream({ model, max_tokens: 16, messages: hello }).finalMessage();
      return { status: 200, sluiceCode: undefined, body: undefined, text: '' };
    } catch (err) {
      const e = err as InstanceType<typeof Anthropic.APIError>;
      return {
        status: e.status,
        sluiceCode: e.headers?.get('x-sluice-error-code'),
        body: e.error,
        text: `${e.message} ${JSON.stringify(e.error)}`,
      };
    }
  }

  for (const p of PROVIDERS) {
    for (const mode of ['leak-401', 'leak-500', 'leak-stream'] as const) {
      it(`${p}: ${mode}`, async () => {
        const seen = await message(`${p}-${mode}`, mode === 'leak-stream');
        expect(seen.status).not.toBe(200);
        expect(leaks(seen.text), seen.text).toEqual([]);
        expect(seen.text).toContain('[redacted]');
      });
    }
  }

  it("keeps an Anthropic upstream's error type and passes an OpenAI upstream's code in details", async () => {
    const ant = await message('ant-leak-401', false);
    expect(ant.status).toBe(401);
    expect(ant.body).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const oai = await message('oai-leak-400', false);
    expect(oai.body).toMatchObject({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        details: { error_code: 'context_length_exceeded', param: 'messages' },
      },
    });
    expect(oai.sluiceCode).toBe('SLUICE_ERR_UPSTREAM_REJECTED');
  });
});

describe('and never reach the logs', () => {
  it('the fake saw the real credentials (so every echo above carried a real key)', () => {
    expect(refused).toEqual([]);
  });

  it("the dataplane's log lines (debug level, upstream errors included) hold no key nor piece of one", async () => {
    // one more failure of each kind, then stop the process so every line is flushed
    for (const p of PROVIDERS) await chat(`${p}-leak-401`, false);
    await dp.stop();
    const logs = dp.logs.join('');
    expect(logs).toContain('upstream error');
    expect(leaks(logs)).toEqual([]);
  });
});
