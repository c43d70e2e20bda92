// Hostile body-framing headers (content-type, content-length, transfer-encoding, content-encoding,
// expect) at every POST client API of a real `sluice serve`, sent over a raw socket because fetch and
// node:http refuse most of them. Every answer is a 200 for a body that is what its headers say, or a
// documented error in the client API's shape (415 for a body that is not plain JSON, 400 for framing
// Node's parser refuses), never a 5xx, never a bare status line; the process serves right after.
// HEADER_FUZZ_RUNS / HEADER_FUZZ_SEED widen or replay a hunt; a failing run prints its seed.
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../dataplane/src/errors.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const RUNS = Number(process.env.HEADER_FUZZ_RUNS ?? 80);
const SEED = process.env.HEADER_FUZZ_SEED ? Number(process.env.HEADER_FUZZ_SEED) : Date.now() % 2 ** 31;

const ORIGIN = 'https://app.example.com';

let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    server: { requestReceiveTimeoutMs: 1000, cors: { allowOrigins: [ORIGIN] } },
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 2 } }],
    routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

const hi = [{ role: 'user', content: 'hi' }];
const APIS: Array<{ path: string; body: unknown; anthropic: boolean }> = [
  { path: '/v1/chat/completions', body: { model: 'm', messages: hi }, anthropic: false },
  { path: '/v1/completions', body: { model: 'm', prompt: 'hi' }, anthropic: false },
  { path: '/v1/embeddings', body: { model: 'm', input: 'hi' }, anthropic: false },
  { path: '/v1/messages', body: { model: 'm', max_tokens: 8, messages: hi }, anthropic: true },
  { path: '/v1/messages/count_tokens', body: { model: 'm', messages: hi }, anthropic: true },
  { path: '/v1/responses', body: { model: 'm', input: 'hi' }, anthropic: false },
];

/** A framing: the header lines, the bytes after them, and what the answer must be. */
interface Framing {
  label: string;
  head: (body: Buffer) => string[];
  payload: (body: Buffer) => Buffer;
  /** 200, or the one documented status a refusal must have */
  expect: number;
}

const cl = (b: Buffer) => `content-length: ${b.length}`;
const same = (b: Buffer) => b;
const JSON_TYPE = 'content-type: application/json';
/** A JSON body with its length and one more header line. */
const withHeader =
  (name: string, expect: number) =>
  (value: string): Framing => ({
    label: `${name} ${value}`,
    head: (b) => [JSON_TYPE, `${name}: ${value}`, cl(b)],
    payload: same,
    expect,
  });

const FRAMINGS: Framing[] = [
  ...[
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
  ].map(
    (t): Framing => ({ label: t, head: (b) => [`content-type: ${t}`, cl(b)], payload: same, expect: 200 }),
  ),
  ...[
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
    'application/jsonx',
    '*/*',
  ].map(
    (t): Framing => ({
      label: `type ${t}`,
      head: (b) => [`content-type: ${t}`, cl(b)],
      payload: same,
      expect: 415,
    }),
  ),
  { label: 'no content-type', head: (b) => [cl(b)], payload: same, expect: 415 },
  {
    label: 'two content-types (Node keeps the first)',
    head: (b) => [JSON_TYPE, 'content-type: text/plain', cl(b)],
    payload: same,
    expect: 200,
  },
  {
    label: 'chunked',
    head: () => [JSON_TYPE, 'transfer-encoding: chunked'],
    payload: (b) =>
      Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]),
    expect: 200,
  },
  ...['chunked, gzip', 'gzip', 'identity', 'chunked\r\ntransfer-encoding: chunked'].map(
    withHeader('transfer-encoding', 400),
  ),
  {
    label: 'content-length and chunked (smuggling shape)',
    head: (b) => [JSON_TYPE, cl(b), 'transfer-encoding: chunked'],
    payload: same,
    expect: 400,
  },
  ...['-1', '+57', '0x39', '1e2', '57, 58', ''].map(
    (v): Framing => ({
      label: `content-length ${v}`,
      head: () => [JSON_TYPE, `content-length: ${v}`],
      payload: same,
      expect: 400,
    }),
  ),
  {
    label: 'content-length shorter than the body',
    head: (b) => [JSON_TYPE, `content-length: ${b.length - 3}`],
    payload: same,
    expect: 400,
  },
  {
    label: 'leading zeros',
    head: (b) => [JSON_TYPE, `content-length: 000${b.length}`],
    payload: same,
    expect: 200,
  },
  // a coding Sluice does not decode: the body is not the JSON it reads, whatever its bytes are
  ...['gzip', 'br', 'deflate', 'gzip, identity', 'x-unknown'].map(withHeader('content-encoding', 415)),
  {
    label: 'a gzipped body',
    head: (b) => [JSON_TYPE, 'content-encoding: gzip', `content-length: ${gzipSync(b).length}`],
    payload: (b) => gzipSync(b),
    expect: 415,
  },
  withHeader('content-encoding', 200)('identity'),
  // RFC 9110 10.1.1: an expectation the server does not know MAY be refused with 417 — or ignored
  ...['foo', '100-continue, foo', '', '200-ok'].map(withHeader('expect', 200)),
];

interface Raw {
  status: number;
  headers: Map<string, string>;
  body: string;
}

function rawPost(path: string, head: string[], payload: Buffer): Promise<Raw> {
  return rawRequest('POST', path, head, payload);
}

function rawRequest(
  method: string,
  path: string,
  head: string[],
  payload: Buffer = Buffer.alloc(0),
): Promise<Raw> {
  const { port } = new URL(dp.url);
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', ...head, 'connection: close', '', ''];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n');
      const headers = new Map<string, string>();
      for (const l of headerLines)
        headers.set(l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim());
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: text.slice(split + 4) });
    });
    socket.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), payload]));
    setTimeout(() => socket.destroy(), 5_000).unref();
  });
}

describe('hostile framing headers at every POST client API', () => {
  it('a 200 for a body that is what its headers say, else the documented error in the API shape', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...APIS), fc.constantFrom(...FRAMINGS), async (api, f) => {
        const body = Buffer.from(JSON.stringify(api.body));
        const r = await rawPost(api.path, f.head(body), f.payload(body));
        const why = `${api.path} [${f.label}] -> ${r.status} ${r.body.slice(0, 300)}`;
        expect(r.status, why).toBe(f.expect);
        if (r.status === 200) return;
        // Node's own parser errors end the connection before fastify; everything else has an id
        if (r.status !== 400 || !r.body.includes('malformed HTTP request'))
          expect(r.headers.get('x-request-id'), why).toMatch(/^[\w.:-]{1,128}$/);
        const code =
          r.headers.get('x-sluice-error-code') ??
          (JSON.parse(r.body) as { error: { code: string } }).error.code;
        expect(Object.keys(ERRORS), why).toContain(code);
        expect(r.status, why).toBe(ERRORS[code as ErrorCode].status);
        const parsed = JSON.parse(r.body) as { type?: string; error: { message: string; type: string } };
        // a refusal before the route is known (Node's parser) is in OpenAI's shape, the default
        if (api.anthropic && !r.body.includes('malformed HTTP request'))
          expect(parsed.type, why).toBe('error');
        expect(parsed.error.message.length, why).toBeGreaterThan(0);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 120_000);

  it('a CORS preflight with hostile Origin / Access-Control-Request-* is a 204 that allows only what is configured', async () => {
    const value = fc.oneof(
      fc.constantFrom(
        ORIGIN,
        `${ORIGIN}.evil.example`,
        `${ORIGIN} `,
        'null',
        '*',
        '',
        'POST',
        'post',
        'TRACE',
      ),
      fc.constantFrom(
        'authorization, x-evil',
        'x-api-key,,,content-type',
        `${'a,'.repeat(500)}`,
        '__proto__',
      ),
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
        maxLength: 40,
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...APIS.map((a) => a.path)),
        value,
        value,
        value,
        async (path, origin, method, asked) => {
          const r = await rawRequest('OPTIONS', path, [
            `origin: ${origin}`,
            `access-control-request-method: ${method}`,
            `access-control-request-headers: ${asked}`,
          ]);
          const why = `${path} origin=${JSON.stringify(origin)} method=${JSON.stringify(method)} -> ${r.status}`;
          // DEL is no header character: Node's parser refuses the request, in OpenAI's error shape
          if (/\x7f/.test(origin + method + asked)) {
            expect(r.status, why).toBe(400);
            expect(r.body, why).toContain('SLUICE_ERR_INVALID_REQUEST');
            return;
          }
          // no Origin (an empty one, or one longer than any origin, is none): not a preflight, and
          // no route answers OPTIONS
          if (origin.trim() === '' || origin.length > 300) {
            expect(r.status, why).toBe(404);
            expect(r.headers.get('x-sluice-error-code'), why).toBe('SLUICE_ERR_NOT_FOUND');
            return;
          }
          expect(r.status, why).toBe(204);
          const allowed = r.headers.get('access-control-allow-origin');
          if (allowed !== undefined) {
            expect(allowed, why).toBe(ORIGIN);
            expect(origin.trim(), why).toBe(ORIGIN);
            expect(['GET', 'POST', 'DELETE'], why).toContain(method.trim().toUpperCase());
          } else if (
            origin.trim() === ORIGIN &&
            ['GET', 'POST', 'DELETE'].includes(method.trim().toUpperCase())
          )
            expect.fail(`${why}: a configured origin and method got no access-control-allow-origin`);
          for (const h of (r.headers.get('access-control-allow-headers') ?? '').split(', ').filter(Boolean))
            expect(asked.toLowerCase(), why).toContain(h);
          expect((r.headers.get('access-control-allow-headers') ?? '').length, why).toBeLessThanOrEqual(1024);
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  });

  it('still serves a well-formed request', async () => {
    const body = Buffer.from(JSON.stringify(APIS[0]?.body));
    const r = await rawPost('/v1/chat/completions', [JSON_TYPE, cl(body)], body);
    expect(r.status, r.body).toBe(200);
    expect(dp.child.exitCode).toBeNull();
  });
});
