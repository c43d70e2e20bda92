// One tenant's streams whose client never reads held what they were given for as long as the total
// timeout (10 min by default): the upstream stream waits on backpressure, its pooled connection and
// its concurrency turn stay taken, and the upstream idle timeout does not run while Sluice is not
// reading. Such a tenant took all of a provider's connections (AIProvider `connections`) or all of its
// `maxConcurrency` turns with as many stalled streams, and every other tenant's requests to that
// provider waited behind them. Now no tenant holds more than half of an endpoint's connections while
// several tenants are configured, and a client that takes nothing for the stream's idle timeout is cut
// (its turn goes to the next tenant in turn). Through a real `sluice serve`, raw sockets that never
// read, and the openai SDK.
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  openaiProvider,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-slow-reader-tenant-a-0001';
const KEY_B = 'sk-patient-tenant-b-0002';

/** An OpenAI-compatible upstream whose streams are long (~48 MB) and wait for the reader. */
function streamingUpstream(): Server & { streaming: () => number } {
  let streaming = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => {
      raw += d.toString();
    });
    req.on('end', async () => {
      const body = JSON.parse(raw) as { model: string; stream?: boolean };
      const chunk = (delta: unknown, finish: string | null = null) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'chatcmpl-w',
            object: 'chat.completion',
            created: 1,
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content: 'served' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
        return;
      }
      streaming++;
      res.on('close', () => streaming--);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const words = 'word '.repeat(3000);
      for (let i = 0; i < 3200 && !res.destroyed; i++)
        if (!res.write(chunk({ content: words })))
          await new Promise((r) => {
            res.once('drain', r);
            res.once('close', r);
          });
      res.end(`${chunk({}, 'stop')}data: [DONE]\n\n`);
    });
  }) as Server & { streaming: () => number };
  server.streaming = () => streaming;
  return server;
}

let up: ReturnType<typeof streamingUpstream>;
let dp: DataplaneProcess;
let cfg: TestConfigDir;
const readers: Socket[] = [];

beforeAll(async () => {
  up = streamingUpstream();
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(up.address() as { port: number }).port}/v1`;
  cfg = configDir({
    providers: [
      openaiProvider('pooled', url, { connections: 2 }),
      // a stalled reader is cut after 1.5 s here (30 s by default)
      openaiProvider('limited', url, { maxConcurrency: 2, timeouts: { idleMs: 1_500 } }),
    ],
    routes: [
      { name: 'pooled', match: { models: ['pooled-model'] }, backends: [{ provider: 'pooled' }] },
      { name: 'limited', match: { models: ['limited-model'] }, backends: [{ provider: 'limited' }] },
    ],
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] } },
    ],
  });
  dp = await spawnDataplane(cfg.file);
}, 60_000);

afterAll(async () => {
  for (const s of readers) s.destroy();
  await dp?.stop();
  cfg?.cleanup();
  up?.closeAllConnections();
  await new Promise((r) => up?.close(r));
});

/** A streaming request from a client that never reads its answer. */
function slowReader(model: string): void {
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const { port } = new URL(dp.url);
  const s = connect(Number(port), '127.0.0.1', () => {
    s.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: sluice\r\nauthorization: Bearer ${KEY_A}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
  });
  s.pause();
  s.on('error', () => {});
  readers.push(s);
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(check()).toBe(true);
}

// B waits at most 20 s; A's stalled streams would hold for the 10-minute total timeout.
const tenantB = () => new OpenAI({ baseURL: dp.baseURL, apiKey: KEY_B, maxRetries: 0, timeout: 20_000 });

describe("a tenant's streams that are never read", () => {
  it("do not take all of a provider's pooled connections", async () => {
    const before = up.streaming();
    slowReader('pooled-model');
    slowReader('pooled-model');
    // one of a's streams is upstream; the other waits for a's own share of the pool
    await until(() => up.streaming() >= before + 1);
    const answer = await tenantB().chat.completions.create({
      model: 'pooled-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toBe('served');
    expect(up.streaming()).toBe(before + 1);
  }, 30_000);

  it("hold a provider's maxConcurrency turns only until the idle timeout, then the next tenant's turn comes", async () => {
    const before = up.streaming();
    slowReader('limited-model');
    slowReader('limited-model');
    // both of a's streams are upstream: a may use the whole limit while nobody else asks
    await until(() => up.streaming() >= before + 2);
    const answer = await tenantB().chat.completions.create({
      model: 'limited-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(answer.choices[0]?.message.content).toBe('served');
    // the stalled readers were cut, and their upstream streams with them
    await until(() => up.streaming() <= before);
  }, 30_000);
});
