// callUpstream is the proxy's one way to an HTTP upstream: undici's dispatch with our handler. These
// pin the behaviour request() gave and the proxy relies on, against a real node:http server: headers,
// 1xx skipped, abort before and after the headers, a destroyed body cancelling the upstream request,
// backpressure reaching the socket, a broken body and undici's timeouts reaching the reader.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { callUpstream } from './upstream_call.ts';

let server: Server | undefined;
let pool: Pool | undefined;

afterEach(async () => {
  await pool?.destroy();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = pool = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Pool> {
  server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
    connections: 2,
    pipelining: 1,
  });
  return pool;
}

const post = (body = '{"q":1}') => ({
  method: 'POST' as const,
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json' },
  body,
});

describe('callUpstream', () => {
  it('resolves at the headers with lower-cased names, the body streams the answer', async () => {
    const p = await serve((req, res) => {
      let got = '';
      req.on('data', (c) => {
        got += c;
      });
      req.on('end', () => {
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Upstream': 'yes' });
        res.end(JSON.stringify({ echoed: got }));
      });
    });
    const r = await callUpstream(p, post('{"hello":"world"}'), new AbortController().signal);
    expect(r.status).toBe(201);
    expect(r.headers['x-upstream']).toBe('yes');
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse((await r.body.readAll(1000)).toString())).toEqual({ echoed: '{"hello":"world"}' });
  });

  it('skips a 1xx answer and resolves with the final one', async () => {
    const p = await serve((_req, res) => {
      res.writeProcessing();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('final');
    });
    const r = await callUpstream(p, post(), new AbortController().signal);
    expect(r.status).toBe(200);
    expect((await r.body.readAll(100)).toString()).toBe('final');
  });

  it('an abort before the headers rejects with the signal reason and closes the upstream request', async () => {
    let upstreamClosed: Promise<unknown> = Promise.resolve();
    const p = await serve((req) => {
      upstreamClosed = once(req.socket, 'close');
      // never answers
    });
    const ac = new AbortController();
    const call = callUpstream(p, post(), ac.signal);
    await new Promise((r) => setTimeout(r, 30));
    const reason = new DOMException('total timeout of 30 ms', 'TimeoutError');
    ac.abort(reason);
    await expect(call).rejects.toBe(reason);
    await upstreamClosed;
  });

  it('an already aborted signal rejects without sending', async () => {
    let requests = 0;
    const p = await serve((_req, res) => {
      requests++;
      res.end('x');
    });
    const ac = new AbortController();
    ac.abort(new Error('client gone'));
    await expect(callUpstream(p, post(), ac.signal)).rejects.toThrow('client gone');
    expect(requests).toBe(0);
  });

  it('an abort after the headers fails the body with the signal reason', async () => {
    const p = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      // the rest never comes
    });
    const ac = new AbortController();
    const r = await callUpstream(p, post(), ac.signal);
    const read = r.body.readAll(1_000_000);
    ac.abort(new Error('cap reached'));
    await expect(read).rejects.toThrow('cap reached');
  });

  it('destroying the body before its end cancels the upstream request', async () => {
    let upstreamClosed: Promise<unknown> = Promise.resolve();
    const p = await serve((req, res) => {
      upstreamClosed = once(req.socket, 'close');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    });
    const r = await callUpstream(p, post(), new AbortController().signal);
    r.body.destroy();
    await upstreamClosed;
  });

  it('a body the reader does not read pauses the socket instead of buffering the whole answer', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let written = 0;
    let stalled!: () => void;
    const writerStalled = new Promise<void>((r) => {
      stalled = r;
    });
    const p = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = () => {
        // 64 MiB would be written at once if nothing pushed back
        while (written < 64 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            stalled();
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const r = await callUpstream(p, post(), new AbortController().signal);
    await writerStalled;
    await new Promise((res) => setTimeout(res, 100));
    // socket buffers on both sides plus the stream's high-water mark, far below the whole answer
    expect(written).toBeLessThan(16 * 1024 * 1024);
    r.body.destroy();
  });

  it('a connection broken mid-body fails the body, not silently ends it', async () => {
    const p = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const r = await callUpstream(p, post(), new AbortController().signal);
    await expect(r.body.readAll(10_000)).rejects.toThrow();
  });

  it("undici's first-byte and idle timeouts reach the caller with their codes", async () => {
    const p = await serve((req, res) => {
      if (req.url === '/slow-headers') return;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    });
    await expect(
      callUpstream(p, { ...post(), path: '/slow-headers', headersTimeout: 50 }, new AbortController().signal),
    ).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    const r = await callUpstream(p, { ...post(), bodyTimeout: 50 }, new AbortController().signal);
    await expect(r.body.readAll(10_000)).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
  });
});
