// A provider aimed back at the gateway, and providers aimed where the platform forbids (issue 14,
// item 3). A counting proxy sits between the gateway and itself, so every nested request is seen:
// hop detection must stop the loop after MAX_HOPS nestings, without retries multiplying them, and
// the egress policy must refuse the connection before any request leaves (including a name that
// resolves to a denied address, and link-local addresses).
import { createServer, type Server } from 'node:http';
import OpenAI from 'openai';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, validateConfig } from '../../dataplane/src/config/load.ts';
import { guardedConnector } from '../../dataplane/src/proxy/egress.ts';
import { MAX_HOPS } from '../../dataplane/src/proxy/hops.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

process.env.SLUICE_TEST_KEY ??= 'sk-test-upstream';

interface Seen {
  hop: string | undefined;
  status: number;
}

/** Forwards everything to `target()` and records each request's hop header and the answer's status. */
async function startCountingProxy(
  target: () => string,
): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
    const answer = await fetch(`${target()}${req.url}`, {
      method: req.method,
      headers,
      body: parts.length ? Buffer.concat(parts) : undefined,
    });
    const text = await answer.text();
    seen.push({ hop: req.headers['x-sluice-hop'] as string | undefined, status: answer.status });
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen, server };
}

const hello = { model: 'loop-model', messages: [{ role: 'user' as const, content: 'hi' }] };

async function sdkError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('a provider aimed back at the gateway', () => {
  let gateway: InProcessDataplane;
  let proxy: Awaited<ReturnType<typeof startCountingProxy>>;

  beforeAll(async () => {
    proxy = await startCountingProxy(() => gateway.url);
    gateway = await startDataplane({
      access: 'open',
      // a loop fails at every level: the breaker would eject the provider after one looping request,
      // and the next request would meet 503 instead of the loop this suite is about
      providers: [
        { ...openaiProvider('self', `${proxy.url}/v1`), circuitBreaker: { consecutiveFailures: 1000 } },
      ],
      // retries on every level would multiply the nested requests if a loop were retried
      routes: [{ name: 'loop', backends: [{ provider: 'self' }], retry: { attempts: 2, baseDelayMs: 1 } }],
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await new Promise((r) => proxy?.server.close(r));
  });

  it('is stopped by hop detection after a few nestings, with 508 all the way back and no retries', async () => {
    const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'unused', maxRetries: 0 });
    const err = await sdkError(client.chat.completions.create(hello));
    expect(err.status).toBe(508);
    expect(err.code ?? (err.error as { code?: string })?.code).toBe('SLUICE_ERR_LOOP_DETECTED');
    // hops 1..MAX_HOPS+1 went through the proxy (innermost first in `seen`); the last was refused
    expect(proxy.seen.map((s) => s.hop).sort()).toEqual(
      Array.from({ length: MAX_HOPS + 1 }, (_, i) => String(i + 1)).sort(),
    );
    expect(proxy.seen.every((s) => s.status === 508)).toBe(true);
  });

  it("tells the SDKs not to retry it: a client's default retries would run the loop again", async () => {
    // the openai and Anthropic SDKs retry every 5xx twice unless the answer says x-should-retry: false
    const before = proxy.seen.length;
    const client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'unused', maxRetries: 2 });
    const err = await sdkError(client.chat.completions.create(hello));
    expect(err.status).toBe(508);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(proxy.seen.length - before).toBe(MAX_HOPS + 1);
  });
});

describe('the egress policy', () => {
  let upstreamHits = 0;
  let upstream: Server;
  let upstreamPort = 0;

  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      upstreamHits++;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => upstream?.close(r));
  });

  it('refuses at connect time a name that resolves to a denied address (the gateway on localhost)', async () => {
    const gateway = await startDataplane({
      access: 'open',
      egress: { deny: ['127.0.0.0/8', '::1/128'] },
      // "localhost" is not denied by name: only what it resolves to is
      providers: [openaiProvider('local', `http://localhost:${upstreamPort}/v1`)],
      routes: [{ name: 'r', backends: [{ provider: 'local' }], retry: { attempts: 0 } }],
    });
    try {
      // with the SDK's default retries: a denied address stays denied, so the answer says not to retry
      let sent = 0;
      const client = new OpenAI({
        baseURL: gateway.baseURL,
        apiKey: 'unused',
        maxRetries: 2,
        fetch: (input, init) => {
          sent++;
          return fetch(input, init);
        },
      });
      const err = await sdkError(client.chat.completions.create(hello));
      expect(err.status).toBe(502);
      expect(err.message).toMatch(/egress policy denies localhost \((127\.0\.0\.1|::1)\): egress\.deny/);
      expect(err.headers?.get('x-should-retry')).toBe('false');
      expect(sent).toBe(1);
      expect(upstreamHits).toBe(0);
    } finally {
      await gateway.stop();
    }
  });

  it('refuses link-local and denied providers when the config is loaded, naming the field', () => {
    const issues = (baseUrl: string, egress?: unknown) => {
      try {
        validateConfig({
          access: 'open',
          ...(egress ? { egress } : {}),
          providers: [openaiProvider('p', baseUrl)],
          routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
        });
      } catch (err) {
        return (err as ConfigError).issues;
      }
      return [];
    };
    expect(issues('http://169.254.169.254/latest/meta-data')).toEqual([
      {
        path: 'providers[0].baseUrl',
        message: 'egress policy denies 169.254.169.254: link-local "169.254.0.0/16"',
      },
    ]);
    expect(issues('http://[fe80::1]:8080/v1')[0]?.message).toMatch(/link-local "fe80::\/10"/);
    expect(
      issues('http://sluice-dataplane.sluice-system.svc.cluster.local:8080/v1', {
        deny: ['*.svc.cluster.local'],
      }),
    ).toEqual([
      {
        path: 'providers[0].baseUrl',
        message:
          'egress policy denies host sluice-dataplane.sluice-system.svc.cluster.local (egress.deny "*.svc.cluster.local")',
      },
    ]);
    // an allow entry is the platform's exception, even for link-local
    expect(issues('http://169.254.10.10/v1', { allow: ['169.254.10.0/24'] })).toEqual([]);
    expect(issues('http://10.1.2.3/v1', { deny: ['10.0.0.0/8'], allow: ['10.1.2.3'] })).toEqual([]);
  });

  it('refuses to connect to a link-local address at all (nothing is sent)', async () => {
    const pool = new Pool('http://169.254.169.254', { connect: guardedConnector(2_000) });
    try {
      const err = await pool.request({ method: 'GET', path: '/latest/meta-data' }).then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(err?.code).toBe('SLUICE_EGRESS_DENIED');
      expect(err?.message).toMatch(/link-local/);
    } finally {
      await pool.close();
    }
  });
});
