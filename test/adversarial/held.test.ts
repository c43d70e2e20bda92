// What held in the adversarial review, kept that way: a key in the query string is not a credential,
// no client header (Authorization, Cookie, x-api-key ...) reaches the upstream, and the upstream's
// Set-Cookie (and other headers of its own) never reaches the client. Through a real `sluice serve`
// process, an upstream that records every header it receives and answers with cookies, and the
// official openai SDK.
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  openaiProvider,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

const KEY = 'sk-held-tenant-key-0001';
let upstream: Server;
let upstreamUrl: string;
const received: IncomingHttpHeaders[] = [];
let dp: DataplaneProcess;
let cfg: TestConfigDir;

/** An OpenAI-format upstream that sets cookies and headers of its own on every answer. */
function startUpstream(): Promise<void> {
  upstream = createServer((req, res) => {
    received.push(req.headers);
    let raw = '';
    req.on('data', (c: Buffer) => {
      raw += c.toString();
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; stream?: boolean };
      const cookies = {
        'set-cookie': ['session=upstream-session-secret; HttpOnly', '__cf_bm=tracking; Path=/'],
        'x-upstream-internal': 'shard-7',
        'openai-organization': 'org-internal',
      };
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', ...cookies });
        const chunk = (delta: object, finish: string | null) =>
          `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        res.end(`${chunk({ role: 'assistant', content: 'hi' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', ...cookies });
      res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        }),
      );
    });
  });
  return new Promise((resolve) =>
    upstream.listen(0, '127.0.0.1', () => {
      upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
      resolve();
    }),
  );
}

beforeAll(async () => {
  await startUpstream();
  cfg = configDir({
    providers: [openaiProvider('up', upstreamUrl)],
    routes: [{ name: 'r', backends: [{ provider: 'up' }] }],
    namespaces: [
      {
        name: 'keyed',
        match: { apiKeys: [{ name: 'k', sha256: createHash('sha256').update(KEY).digest('hex') }] },
      },
    ],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await new Promise((r) => upstream?.close(r));
});

const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

describe('what held, with tests', () => {
  it('a key in the query string is not a credential', async () => {
    for (const q of ['api_key', 'key', 'apiKey', 'access_token', 'token']) {
      const res = await fetch(`${dp.baseURL}/chat/completions?${q}=${KEY}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'SLUICE_ERR_UNAUTHENTICATED',
      );
    }
    const n = received.length;
    // the same key in the header works, and the query string does not change that
    const ok = await fetch(`${dp.baseURL}/chat/completions?api_key=wrong`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body,
    });
    expect(ok.status).toBe(200);
    expect(received.length).toBe(n + 1);
  });

  it("no client header reaches the upstream: only the provider's own credential", async () => {
    const client = new OpenAI({
      baseURL: dp.baseURL,
      apiKey: KEY,
      maxRetries: 0,
      defaultHeaders: {
        cookie: 'client-session=abc',
        'x-api-key': 'client-x-api-key',
        'proxy-authorization': 'Basic Y2xpZW50OnNlY3JldA==',
        'x-forwarded-for': '10.0.0.1',
        'openai-organization': 'org-client',
      },
    });
    const before = received.length;
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const seen = received.slice(before);
    expect(seen).toHaveLength(1);
    const h = seen[0] as IncomingHttpHeaders;
    expect(h.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    const all = JSON.stringify(h);
    for (const leaked of [KEY, 'client-session', 'client-x-api-key', 'Y2xpZW50', '10.0.0.1', 'org-client'])
      expect(all).not.toContain(leaked);
  });

  it("the upstream's Set-Cookie and own headers are not returned, whole or streamed", async () => {
    for (const stream of [false, true]) {
      const res = await fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ ...JSON.parse(body), stream }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.get('x-upstream-internal')).toBeNull();
      expect(res.headers.get('openai-organization')).toBeNull();
    }
  });
});
