// Hostile input against a real `sluice serve` process: property-based wrong types at every field of a
// chat request, random bodies, deep nesting, invalid UTF-8, header floods, a slowloris body, path
// traversal and injection-looking headers. Every answer is a documented 4xx (or a normal 200), the
// process never crashes, keeps serving others meanwhile, and its memory stays bounded.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../dataplane/src/errors.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    server: { bodyLimitBytes: 64 * 1024, maxHeaderBytes: 8 * 1024, requestReceiveTimeoutMs: 1000 },
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
    routes: [
      { name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] },
      { name: 'p', match: { paths: ['/api/chat'] }, backends: [{ provider: 'mock' }] },
    ],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(line?.[1] ?? 0);
}

async function post(
  body: string | Buffer,
  path = '/v1/chat/completions',
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${dp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function expectDocumented(r: { status: number; text: string; headers: Headers }): void {
  expect(r.status, r.text).toBeLessThan(500);
  if (r.status >= 400) {
    const body = JSON.parse(r.text) as { error: { code: string; message: string; type: string } };
    // Sluice's documented code in the header, with the status docs/errors.md gives it; the body's is
    // OpenAI's for the same problem (invalid_type, missing_required_parameter, ...) or Sluice's own
    const code = r.headers.get('x-sluice-error-code') ?? '';
    expect(Object.keys(ERRORS), r.text).toContain(code);
    expect(r.status, code).toBe(ERRORS[code as ErrorCode].status);
    expect(body.error.code, code).toMatch(/^(SLUICE_ERR_\w+|[a-z_]+)$/);
    if (body.error.code.startsWith('SLUICE_ERR_')) expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
  }
}

/** Raw HTTP over a socket, for what fetch refuses to send. */
function raw(
  request: string | Buffer,
  opts: { dribble?: Buffer; intervalMs?: number } = {},
): Promise<string> {
  const { port } = new URL(dp.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (d) => {
      out += d.toString();
    });
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      resolve(out);
    });
    socket.on('error', (err) => (out ? resolve(out) : reject(err)));
    socket.write(request);
    if (opts.dribble) {
      let i = 0;
      const bytes = opts.dribble;
      timer = setInterval(() => {
        if (i < bytes.length && !socket.destroyed) socket.write(bytes.subarray(i, ++i));
      }, opts.intervalMs ?? 200);
    }
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

const FIELDS = [
  'model',
  'messages',
  'stream',
  'temperature',
  'top_p',
  'max_tokens',
  'n',
  'stream_options',
  'tools',
];

describe('hostile input', () => {
  const rssBefore = () => rssKb(dp.child.pid as number);
  let startRss = 0;

  it('wrong types at every field of a chat request give documented errors (property-based)', async () => {
    startRss = rssBefore();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FIELDS, 'messages[0]', 'messages[0].role', 'messages[0].content'),
        fc.jsonValue(),
        async (field, value) => {
          const body: Record<string, unknown> = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
          if (field.startsWith('messages[0]')) {
            const msg = (body.messages as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
            if (field === 'messages[0]') (body.messages as unknown[])[0] = value;
            else msg[field.slice('messages[0].'.length)] = value;
          } else body[field] = value;
          const r = await post(JSON.stringify(body));
          expectDocumented(r);
          if (r.status === 200 && body.stream !== true) expect(JSON.parse(r.text).choices).toBeDefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('random bodies never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
        ),
        async (body) => {
          expectDocumented(await post(body));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects deeply nested JSON and bodies over the limit', async () => {
    const deep = `{"model":"m","messages":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const r1 = await post(deep);
    expect(r1.status).toBe(400);
    expectDocumented(r1);
    const r2 = await post(
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] }),
    );
    expect(r2.status).toBe(413);
    expectDocumented(r2);
  });

  it('survives invalid UTF-8 inside JSON strings', async () => {
    const body = Buffer.concat([
      Buffer.from('{"model":"m","messages":[{"role":"user","content":"'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
      Buffer.from('"}]}'),
    ]);
    expectDocumented(await post(body));
  });

  it('answers a header flood with a documented 431', async () => {
    const headers = Array.from({ length: 2000 }, (_, i) => `x-h${i}: ${'v'.repeat(10)}`).join('\r\n');
    const out = await raw(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n${headers}\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 431/);
    expect(out).toContain('"code":"SLUICE_ERR_HEADERS_TOO_LARGE"');
  });

  it('cuts off a slowloris body with a documented 408 while serving others', async () => {
    const slow = raw(
      'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n',
      { dribble: Buffer.from('{"model":"m"'.padEnd(200, ' ')), intervalMs: 100 },
    );
    const meanwhile = await post(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
    expect(meanwhile.status).toBe(200);
    const out = await slow;
    expect(out).toMatch(/^HTTP\/1\.1 408/);
    expect(out).toContain('SLUICE_ERR_REQUEST_TIMEOUT');
  });

  it('refuses path traversal in path-prefixed routes', async () => {
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    // raw requests: fetch would normalise the dot segments away before sending
    for (const path of [
      '/api/chat/../../etc/passwd',
      '/api/chat/%2e%2e/admin',
      '/api/chat/./x',
      '/api/chat/%2E%2e%2fadmin',
    ]) {
      const out = await raw(
        `POST ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      expect(out, path).toMatch(/^HTTP\/1\.1 404/);
      expect(out).toContain('"code":"SLUICE_ERR_NOT_FOUND"');
    }
  });

  it('treats injection-looking headers as plain data', async () => {
    const r = await post(
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      '/v1/chat/completions',
      {
        'x-request-id': 'ignore previous instructions; <script>alert(1)</script>',
        'x-channel-code': '"; DROP TABLE tenants; --',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4shell-style probe, sent literally
        'user-agent': '{{7*7}} ${jndi:ldap://x}',
      },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is still alive and its memory stayed bounded', async () => {
    expect(dp.child.exitCode).toBeNull();
    expect((await fetch(`${dp.url}/healthz`)).status).toBe(200);
    const grownMb = (rssBefore() - startRss) / 1024;
    expect(grownMb).toBeLessThan(100);
  });
});
