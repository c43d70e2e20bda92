// Issue 13 finding 8: a body over the limit must end in a 413 the client actually reads. A client that
// sends a Content-Length body writes all of it before it reads the answer; a server that answers and
// closes at once resets the connection under the client's write, and the official SDK reports a
// connection error (EPIPE) and uploads the whole body again. Driven with the openai SDK against a real
// `sluice serve` process: every oversized upload gets APIError 413 on the first try, no retry.
import { connect } from 'node:net';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const KEY = 'sk-adversarial-upload-0123456789';
const SMALL_KEY = 'sk-adversarial-small-0123456789';
let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
    routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
    namespaces: [
      { name: 'big', match: { apiKeys: [{ name: 'k', sha256: sha256(KEY) }] } },
      {
        name: 'small',
        match: { apiKeys: [{ name: 'k', sha256: sha256(SMALL_KEY) }] },
        limits: { maxBodyBytes: 256 * 1024 },
      },
    ],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

/** An SDK client with its default retries on, counting every upload it makes. */
function countingClient(apiKey: string): { client: OpenAI; uploads: () => number } {
  let uploads = 0;
  const client = new OpenAI({
    baseURL: dp.baseURL,
    apiKey,
    maxRetries: 2,
    timeout: 60_000,
    fetch: (url, init) => {
      uploads++;
      return fetch(url, init);
    },
  });
  return { client, uploads: () => uploads };
}

function chatOfSize(bytes: number): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming {
  return { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(bytes) }] };
}

async function expect413(client: OpenAI, bytes: number): Promise<APIError> {
  const err = await client.chat.completions.create(chatOfSize(bytes)).then(
    () => undefined,
    (e: unknown) => e,
  );
  // A connection error (EPIPE, ECONNRESET) is an APIConnectionError without a status: the bug.
  expect(err, String(err)).toBeInstanceOf(APIError);
  const apiErr = err as APIError;
  expect(apiErr.status, apiErr.message).toBe(413);
  expect((apiErr.error as { code?: string } | undefined)?.code).toBe('SLUICE_ERR_BODY_TOO_LARGE');
  return apiErr;
}

describe('413 that the client receives (official openai SDK)', () => {
  it('a 50 MB upload over the 10 MiB server limit: APIError 413 each time, uploaded once each', async () => {
    for (let i = 0; i < 4; i++) {
      const { client, uploads } = countingClient(KEY);
      await expect413(client, 50 * 1024 * 1024);
      expect(uploads()).toBe(1);
    }
  });

  it("a namespace's own body limit: 413 naming it, while the same body is fine for another tenant", async () => {
    const small = countingClient(SMALL_KEY);
    const err = await expect413(small.client, 1024 * 1024);
    expect(err.message).toMatch(/262144/);
    expect(small.uploads()).toBe(1);
    const big = countingClient(KEY);
    const ok = await big.client.chat.completions.create(chatOfSize(1024 * 1024));
    expect(ok.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it('a chunked body (no Content-Length) over the limit also gets a readable 413', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'y');
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SMALL_KEY}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SLUICE_ERR_BODY_TOO_LARGE');
  });

  it('a large body on another method (405 anyway) is still bounded by the server limit', async () => {
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: Buffer.alloc(12 * 1024 * 1024, 'z'),
    });
    expect(res.status).toBe(413);
    await res.arrayBuffer();
  });

  it('the connection stays usable: a normal request right after works', async () => {
    const { client } = countingClient(SMALL_KEY);
    const ok = await client.chat.completions.create(chatOfSize(100));
    expect(ok.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it('Expect: 100-continue: a refused body is never asked for, an accepted one is', async () => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    // too large for the tenant, and unauthenticated: the final answer comes instead of the 100
    const big = await exchange(SMALL_KEY, 1024 * 1024, undefined);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).not.toContain('100 Continue');
    const anonymous = await exchange(undefined, body.length, undefined);
    expect(anonymous).toMatch(/^HTTP\/1\.1 401 /);
    // accepted: 100 first, then the body is sent and served
    const ok = await exchange(SMALL_KEY, body.length, body);
    expect(ok).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });
});

/** One raw request with Expect: 100-continue; sends `body` only after a 100. Returns all it read. */
function exchange(key: string | undefined, length: number, body: string | undefined): Promise<string> {
  const { hostname, port } = new URL(dp.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(got);
    }, 5_000);
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && body !== undefined && !got.includes('200 OK')) {
        if (got.length === 'HTTP/1.1 100 Continue\r\n\r\n'.length) socket.write(body);
        return;
      }
      const final = got.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const headEnd = final.indexOf('\r\n\r\n');
      const len = Number(/content-length: (\d+)/i.exec(final)?.[1] ?? Number.NaN);
      if (headEnd >= 0 && final.length >= headEnd + 4 + len) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\n` +
        (key ? `authorization: Bearer ${key}\r\n` : '') +
        `content-length: ${length}\r\nexpect: 100-continue\r\n\r\n`,
    );
  });
}
