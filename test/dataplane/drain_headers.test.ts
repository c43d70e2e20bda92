// While a replica drains (SIGTERM, then drainDelayMs of serving before the listener closes), every
// answer says `connection: close`, so clients move their keep-alive connections to another replica.
// A streamed answer's headers were written by hand after the reply was hijacked, from a list that
// left out what the request's hooks had put on the reply: streams kept their connections open on a
// draining replica, and lost the echo of the client's own request id too.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let dp: InProcessDataplane;
let stopped: Promise<void> | undefined;

beforeAll(async () => {
  dp = await startDataplane({
    server: { drainDelayMs: 3_000, drainTimeoutMs: 5_000 },
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
    routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
  });
});

afterAll(async () => {
  await (stopped ?? dp?.stop());
});

/** One chat request on its own connection: the status, the raw response headers and the body. */
function chat(stream: boolean): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(`${dp.url}/v1/chat/completions`);
  const body = JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'client-id-1' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('a draining replica', () => {
  it('serves before the drain without closing, and with connection: close once it drains, whole and streamed', async () => {
    for (const stream of [false, true]) {
      const r = await chat(stream);
      expect(r.status).toBe(200);
      expect(r.headers.connection).not.toBe('close');
      expect(r.headers['x-client-request-id']).toBe('client-id-1');
    }
    stopped = dp.stop();
    for (const stream of [false, true]) {
      const r = await chat(stream);
      expect(r.status, `stream: ${stream}`).toBe(200);
      expect(r.headers.connection, `stream: ${stream}`).toBe('close');
      expect(r.headers['x-client-request-id'], `stream: ${stream}`).toBe('client-id-1');
      if (stream) expect(r.body).toContain('data: [DONE]');
      else expect(JSON.parse(r.body)).toMatchObject({ object: 'chat.completion' });
    }
  });
});
