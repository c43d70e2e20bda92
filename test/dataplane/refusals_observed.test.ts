// Errors answered before any exchange began (a refused credential, a refused body, an unknown path or
// method) are requests too: each has one access line and counts in sluice_requests_total, exactly as
// an exchange's end does, so failed logins and refused bodies are visible to the operator.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const KEY = 'sk-refusals-observed-0001';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const lines: string[] = [];
let dp: InProcessDataplane;

beforeAll(async () => {
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  dp = await startDataplane(
    {
      server: { bodyLimitBytes: 2048 },
      providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 2 } }],
      routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
      namespaces: [{ name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256(KEY) }] } }],
    },
    log,
  );
});
afterAll(async () => {
  await dp?.stop();
});

const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

/** The access lines written for one request id (the writer batches: read them once it has flushed). */
async function accessLines(reqId: string): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const found = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request' && l.reqId === reqId);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metricCount(labels: string): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`sluice_requests_total{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

interface Case {
  name: string;
  send: () => Promise<Response>;
  status: number;
  code: string;
  namespace: string | undefined;
  /** the api label: the chat API its path belongs to, `none` for a path no endpoint serves */
  api?: string;
}

const cases: Case[] = [
  {
    name: 'no credentials (no default tenant)',
    send: () =>
      fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chat,
      }),
    status: 401,
    code: 'SLUICE_ERR_UNAUTHENTICATED',
    namespace: undefined,
  },
  {
    name: 'a key that is no tenant’s',
    send: () =>
      fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}x` },
        body: chat,
      }),
    status: 401,
    code: 'SLUICE_ERR_UNAUTHENTICATED',
    namespace: undefined,
  },
  {
    name: 'a body over the limit, from a known caller',
    send: () =>
      fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(4096) }] }),
      }),
    status: 413,
    code: 'SLUICE_ERR_BODY_TOO_LARGE',
    namespace: 'team',
  },
  {
    name: 'a compressed body, from a known caller',
    send: () =>
      fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          authorization: `Bearer ${KEY}`,
        },
        body: chat,
      }),
    status: 415,
    code: 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
    namespace: 'team',
  },
  {
    name: 'a wrong method',
    send: () => fetch(`${dp.baseURL}/chat/completions`, { headers: { authorization: `Bearer ${KEY}` } }),
    status: 405,
    code: 'SLUICE_ERR_METHOD_NOT_ALLOWED',
    namespace: undefined,
  },
  {
    name: 'an unknown path',
    send: () => fetch(`${dp.url}/v2/nothing`, { headers: { authorization: `Bearer ${KEY}` } }),
    status: 404,
    code: 'SLUICE_ERR_NOT_FOUND',
    namespace: undefined,
    api: 'none',
  },
];

describe('errors answered before an exchange', () => {
  for (const c of cases) {
    it(`${c.name}: one access line and one count`, async () => {
      const api = c.api ?? 'openai-chat';
      const labels = `route="none",namespace="${c.namespace ?? 'none'}",api="${api}",status="${c.status}",code="${c.code}"`;
      const before = await metricCount(labels);
      const res = await c.send();
      await res.text();
      expect(res.status).toBe(c.status);
      expect(res.headers.get('x-sluice-error-code')).toBe(c.code);
      const reqId = res.headers.get('x-request-id') as string;
      const logged = await accessLines(reqId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ api, status: c.status, code: c.code });
      expect(logged[0]?.namespace).toBe(c.namespace);
      expect(typeof logged[0]?.ms).toBe('number');
      expect(await metricCount(labels)).toBe(before + 1);
    });
  }

  // Node's parser refuses these before fastify sees a request: a raw answer, still one line and count
  for (const [name, raw, status, code] of [
    ['a malformed request line', 'GARBAGE / HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'SLUICE_ERR_INVALID_REQUEST'],
    [
      'headers over the limit',
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-pad: ${'a'.repeat(40_000)}\r\n\r\n`,
      431,
      'SLUICE_ERR_HEADERS_TOO_LARGE',
    ],
  ] as const) {
    it(`${name} (refused by the HTTP parser): a request id, one access line and one count`, async () => {
      // no endpoint matched: counted under api="none", never under a chat API
      const labels = `route="none",namespace="none",api="none",status="${status}",code="${code}"`;
      const before = await metricCount(labels);
      const url = new URL(dp.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => socket.write(raw));
        let text = '';
        socket.on('data', (d) => {
          text += d.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      const reqId = /x-request-id: ([0-9a-f-]{36})\r\n/.exec(answer)?.[1] as string;
      expect(reqId).toBeDefined();
      const logged = await accessLines(reqId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ api: 'none', status, code });
      expect(await metricCount(labels)).toBe(before + 1);
    });
  }

  it('a 405 says which method is allowed', async () => {
    const res = await fetch(`${dp.baseURL}/chat/completions`, { method: 'DELETE' });
    await res.text();
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('a served request still has exactly one access line (no second one from the error path)', async () => {
    const res = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: chat,
    });
    await res.text();
    expect(res.status).toBe(200);
    const logged = await accessLines(res.headers.get('x-request-id') as string);
    // a second, later line would be a double count: give the writer time to flush it too
    await new Promise((r) => setTimeout(r, 250));
    expect(await accessLines(res.headers.get('x-request-id') as string)).toHaveLength(1);
    expect(logged[0]).toMatchObject({ status: 200, code: 'ok', namespace: 'team', route: 'r' });
  });
});
