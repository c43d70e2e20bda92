// callUpstream is the proxy's one way to an HTTP upstream: undici's dispatch with our handler. These
// pin the behaviour request() gave and the proxy relies on, against a real node:http server: headers,
// 1xx skipped, abort before and after the headers, a destroyed body cancelling the upstream request,
// backpressure reaching the socket, a broken body, and the handler's own first-byte and idle deadlines.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
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

/** Deadlines no test here reaches, unless it is about them. */
const LONG = { firstByteMs: 10_000, idleMs: 10_000 };

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
    const r = await callUpstream(p, post('{"hello":"world"}'), new AbortController().signal, LONG);
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
    const r = await callUpstream(p, post(), new AbortController().signal, LONG);
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
    const call = callUpstream(p, post(), ac.signal, LONG);
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
    await expect(callUpstream(p, post(), ac.signal, LONG)).rejects.toThrow('client gone');
    expect(requests).toBe(0);
  });

  it('an abort after the headers fails the body with the signal reason', async () => {
    const p = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      // the rest never comes
    });
    const ac = new AbortController();
    const r = await callUpstream(p, post(), ac.signal, LONG);
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
    const r = await callUpstream(p, post(), new AbortController().signal, LONG);
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
    const r = await callUpstream(p, post(), new AbortController().signal, LONG);
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
    const r = await callUpstream(p, post(), new AbortController().signal, LONG);
    await expect(r.body.readAll(10_000)).rejects.toThrow();
  });

  it('a missed first byte fails the call before the headers with its code', async () => {
    const p = await serve(() => {});
    const t0 = performance.now();
    await expect(
      callUpstream(p, post(), new AbortController().signal, { firstByteMs: 80, idleMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
  });

  it("the first byte is the body's: headers at once, a first token after longer than the idle timeout", async () => {
    // a reasoning model streaming: its headers come at once, its first event after it thought
    const p = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      const wait = req.url === '/too-slow' ? 400 : 150;
      setTimeout(() => res.end('data: thought\n\n'), wait);
    });
    const deadlines = { firstByteMs: 300, idleMs: 50 };
    const r = await callUpstream(p, post(), new AbortController().signal, deadlines);
    expect((await r.body.readAll(1000)).toString()).toBe('data: thought\n\n');
    const slow = await callUpstream(
      p,
      { ...post(), path: '/too-slow' },
      new AbortController().signal,
      deadlines,
    );
    await expect(slow.body.readAll(1000)).rejects.toMatchObject({
      code: 'SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT',
    });
  });

  it('a gap between reads over the idle timeout fails the body; shorter gaps never do', async () => {
    const p = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      // ten gaps of 40 ms (4x the idle timeout in all), then, on /stall, a gap of 300 ms
      const tick = setInterval(() => {
        res.write(`data: ${n}\n\n`);
        if (++n < 10) return;
        clearInterval(tick);
        if (req.url === '/stall') setTimeout(() => res.end('data: late\n\n'), 300);
        else res.end();
      }, 40);
    });
    const deadlines = { firstByteMs: 1000, idleMs: 100 };
    const ok = await callUpstream(p, post(), new AbortController().signal, deadlines);
    expect((await ok.body.readAll(10_000)).toString()).toContain('data: 9');
    const stalled = await callUpstream(
      p,
      { ...post(), path: '/stall' },
      new AbortController().signal,
      deadlines,
    );
    const t0 = performance.now();
    await expect(stalled.body.readAll(10_000)).rejects.toMatchObject({
      code: 'SLUICE_UPSTREAM_IDLE_TIMEOUT',
    });
    // the stall began ~360 ms in; the idle timeout fired ~100 ms after the last byte, not at the end
    expect(performance.now() - t0).toBeLessThan(700);
  });

  it('a read paused by its slow reader is not an idle upstream', async () => {
    // more than the body's high-water mark at once: the read pauses until the reader takes it
    const big = 'x'.repeat(256 * 1024);
    const p = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(big);
    });
    const r = await callUpstream(p, post(), new AbortController().signal, { firstByteMs: 1000, idleMs: 60 });
    await new Promise((res) => setTimeout(res, 300));
    let got = 0;
    for await (const chunk of r.body) got += chunk.length;
    expect(got).toBe(big.length);
  });

  it('a gateway stalled longer than the idle timeout does not blame an upstream that kept sending', async () => {
    // The upstream runs on its own thread and sends the rest of its answer while this event loop is
    // blocked; the blocked loop waits (synchronously) until it has, and for 3x the idle timeout.
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(
      `const { createServer } = require('node:http');
       const { workerData: { port } } = require('node:worker_threads');
       const server = createServer((_req, res) => {
         res.writeHead(200, { 'content-type': 'text/event-stream' });
         res.write('data: 0\\n\\n');
         port.once('message', () => {
           for (let n = 1; n < 30; n++) res.write('data: ' + n + '\\n\\n');
           res.end(() => port.postMessage('sent'));
         });
       });
       server.listen(0, '127.0.0.1', () => port.postMessage(server.address().port));`,
      { eval: true, workerData: { port: port2 }, transferList: [port2] },
    );
    try {
      const [port] = (await once(port1, 'message')) as [number];
      pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1, pipelining: 1 });
      const r = await callUpstream(pool, post(), new AbortController().signal, {
        firstByteMs: 1000,
        idleMs: 100,
      });
      const it = r.body[Symbol.asyncIterator]();
      expect((await it.next()).value?.toString()).toBe('data: 0\n\n');
      port1.postMessage('go');
      // the gateway's own stall (a long GC, a starved CPU), the upstream's bytes waiting in the socket
      const start = performance.now();
      let sent = false;
      while (performance.now() - start < 5000 && !(sent && performance.now() - start >= 300))
        sent ||= receiveMessageOnPort(port1) !== undefined;
      expect(sent).toBe(true);
      let text = '';
      for (let c = await it.next(); !c.done; c = await it.next()) text += c.value.toString();
      expect(text).toContain('data: 29');
    } finally {
      port1.close();
      await worker.terminate();
    }
  });
});
