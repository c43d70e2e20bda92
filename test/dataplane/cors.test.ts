// CORS per tenant, off by default: preflights answered from the tenants' policies without touching
// limits; an actual request gets Access-Control-Allow-Origin only when its own tenant allows the
// origin (whole and streamed answers alike).
import { connect } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { sha256, tenantConfig } from '../policy/fixtures.ts';

let dp: InProcessDataplane;
const APP = 'https://app-a.example.com';

beforeAll(async () => {
  dp = await startDataplane(
    tenantConfig({
      namespaces: [
        {
          name: 'web',
          match: { apiKeys: [{ name: 'k', sha256: sha256('sk-web') }] },
          policies: ['one-per-minute'],
          cors: { allowOrigins: [APP] },
        },
        { name: 'backend', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-backend') }] } },
        {
          name: 'web-stream',
          match: { apiKeys: [{ name: 'k', sha256: sha256('sk-web-stream') }] },
          cors: { allowOrigins: ['https://other.example.com', APP] },
        },
      ],
      policies: [{ name: 'one-per-minute', requests: { limit: 1, window: 'minute' } }],
    }),
  );
});

afterAll(async () => {
  await dp?.stop();
});

const preflight = (origin: string) =>
  request(`${dp.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, x-evil',
    },
  });

const chat = (key: string, origin: string, stream = false) =>
  request(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { origin, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('CORS', () => {
  it('answers a preflight for an allowed origin, without limits, naming only allowed headers', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await preflight(APP);
      await r.body.dump();
      expect(r.statusCode).toBe(204);
      expect(r.headers['access-control-allow-origin']).toBe(APP);
      expect(r.headers['access-control-allow-methods']).toContain('POST');
      expect(r.headers['access-control-allow-headers']).toBe('authorization, content-type');
      expect(r.headers['access-control-max-age']).toBe('600');
    }
    const other = await preflight('https://evil.example.com');
    await other.body.dump();
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("allows the tenant's origin on its answer; the preflights above took none of its 1 request/minute", async () => {
    const r = await chat('sk-web', APP);
    expect(r.statusCode).toBe(200);
    await r.body.dump();
    expect(r.headers['access-control-allow-origin']).toBe(APP);
    const exposed = String(r.headers['access-control-expose-headers']).split(', ');
    // what the official SDKs read from an answer, so a browser client behaves like a server one
    for (const h of ['x-request-id', 'retry-after', 'x-should-retry']) expect(exposed).toContain(h);
  });

  it('puts the allow headers on streamed answers too', async () => {
    const r = await chat('sk-web-stream', APP, true);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/event-stream');
    await r.body.dump();
    expect(r.headers['access-control-allow-origin']).toBe(APP);
  });

  it('never allows an origin on the answer of a tenant that did not opt in', async () => {
    for (const stream of [false, true]) {
      const r = await chat('sk-backend', APP, stream);
      expect(r.statusCode).toBe(200);
      await r.body.dump();
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('takes a blank Origin (spaces, tabs, NBSP) for none, as an empty one: no preflight; a padded one is the origin it names', async () => {
    // raw bytes: an HTTP client library would drop or refuse a blank header before it is sent
    const raw = (origin: string, path = '/v1/chat/completions', method = 'POST') =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(dp.url).port), '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (d: Buffer) => chunks.push(d));
        socket.on('error', reject);
        socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
        socket.end(
          Buffer.from(
            `OPTIONS ${path} HTTP/1.1\r\nhost: x\r\norigin: ${origin}\r\naccess-control-request-method: ${method}\r\naccess-control-request-headers: *\r\nconnection: close\r\n\r\n`,
            'latin1',
          ),
        );
      });
    for (const [origin, path, method] of [
      ['', '/v1/chat/completions', 'POST'],
      [' ', '/v1/chat/completions', 'POST'],
      ['\t ', '/v1/completions', 'POST'],
      // a latin1 NBSP: whitespace to JavaScript, not to Node's header parser
      ['\xa0', '/v1/completions', 'TRACE'],
      ['\t\xa0 ', '/v1/chat/completions', 'POST'],
    ] as const) {
      const answer = await raw(origin, path, method);
      expect(answer.slice(0, 12), JSON.stringify(origin)).toBe('HTTP/1.1 404');
      expect(answer).not.toMatch(/access-control-allow-origin/i);
    }
    const padded = await raw(` ${APP} `);
    expect(padded.slice(0, 12)).toBe('HTTP/1.1 204');
    expect(padded).toContain(`access-control-allow-origin: ${APP}\r\n`);
  });
});
