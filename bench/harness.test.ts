// Smoke test of the benchmark harness (no timing assertions: performance is measured by `npm run
// bench`, never by a test). Proves the pieces the numbers depend on: the mock speaks and enforces the
// wire format, the verifier accepts exact answers and rejects mangled ones, the fixed-rate client counts
// only valid responses, Sluice passes the verifier, /proc accounting sees a process tree, and the
// target table decides "met" from the right ratios.

import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFixedRate } from './load/fixed_rate.ts';
import { wrkScript } from './load/wrk.ts';
import { type MockUpstream, startMockUpstream } from './mock_upstream.ts';
import { processTree, treeCpuMs, treeRssMiB } from './procs.ts';
import { evaluateTargets } from './report.ts';
import type { BenchResults, TargetResult } from './results.ts';
import type { ThroughputResult } from './scenarios.ts';
import { summarize } from './stats.ts';
import { REPO, sluiceBare } from './targets.ts';
import { type TargetEndpoint, verifyTarget } from './verify.ts';
import { CONTENT, UPSTREAM_KEY } from './workload.ts';

let mock: MockUpstream;
let direct: TargetEndpoint;

beforeAll(async () => {
  mock = await startMockUpstream();
  direct = {
    url: `http://127.0.0.1:${mock.port}/v1/chat/completions`,
    headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
  };
});
afterAll(async () => {
  await mock.close();
});

describe('mock upstream', () => {
  it('answers exactly what the verifier expects, whole and streamed', async () => {
    expect(await verifyTarget(direct, 2)).toEqual([]);
  });

  it('rejects what the real API rejects', async () => {
    const post = (headers: Record<string, string>, body: string) =>
      fetch(direct.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const noKey = await post({}, '{"model":"m","messages":[{"role":"user","content":"x"}]}');
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    expect((await post(direct.headers, '{not json')).status).toBe(400);
    const noMessages = await post(direct.headers, '{"model":"m"}');
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as { error: { param: string } }).error.param).toBe('messages');
  });

  it('streams 20 content chunks as separate writes, then finish + usage + [DONE]', async () => {
    const res = await fetch(direct.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...direct.headers },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    const reads: string[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      reads.push(decoder.decode(chunk));
    const text = reads.join('');
    expect(text.match(/^data: /gm)?.length).toBe(22); // 20 deltas + finish + [DONE]; no usage chunk unasked
    expect(text).not.toContain('"usage"');
    expect(reads.length).toBeGreaterThan(1);
  });
});

describe('verifier', () => {
  // A "gateway" that mangles the answer in one given way: the verifier must notice each.
  async function mangler(
    mangle: (body: string, stream: boolean) => string,
  ): Promise<{ server: Server; target: TargetEndpoint }> {
    const server = createServer(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const c of req) parts.push(c as Buffer);
      const body = Buffer.concat(parts).toString();
      const up = await fetch(direct.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...direct.headers },
        body,
      });
      const stream = (JSON.parse(body) as { stream?: boolean }).stream === true;
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(mangle(await up.text(), stream));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    return { server, target: { url: `http://127.0.0.1:${port}/v1/chat/completions`, headers: {} } };
  }

  it.each([
    ['a changed character', (b: string) => b.replace('世界', '世介')],
    ['a missing [DONE]', (b: string, s: boolean) => (s ? b.replace('data: [DONE]\n\n', '') : b)],
    ['wrong usage', (b: string) => b.replace('"completion_tokens":20', '"completion_tokens":19')],
    ['a lost finish_reason', (b: string) => b.replace('"finish_reason":"stop"', '"finish_reason":null')],
  ])('rejects %s', async (_name, fn) => {
    const { server, target } = await mangler(fn);
    try {
      expect((await verifyTarget(target, 1)).length).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });
});

describe('load generators', () => {
  it('fixed-rate client counts every valid response and measures time to first byte', async () => {
    const r = await runFixedRate({
      url: direct.url,
      headers: direct.headers,
      stream: true,
      rate: 200,
      seconds: 0.5,
      warmupSeconds: 0.2,
      connections: 8,
    });
    expect(r.sent).toBe(100);
    expect(r.valid).toBe(100);
    expect(r.invalid + r.errors).toBe(0);
    expect(r.ttftMs?.p50).toBeGreaterThan(0);
    expect(r.ttftMs?.p50).toBeLessThanOrEqual(r.latencyMs.p50);
  });

  it('fixed-rate client does not count answers that fail the check', async () => {
    const r = await runFixedRate({
      url: direct.url,
      headers: {},
      stream: false,
      rate: 200,
      seconds: 0.25,
      warmupSeconds: 0.1,
      connections: 4,
    });
    expect(r.valid).toBe(0);
    expect(r.invalid).toBe(r.sent);
  });

  it('wrk script embeds the exact body and headers as Lua long strings', () => {
    const lua = wrkScript(true, { authorization: 'Bearer k]]x' });
    expect(lua).toContain('wrk.body = [=[{"model":"gpt-4o-mini"');
    expect(lua).toContain('[=[Bearer k]]x]=]');
    expect(lua).toContain('"include_usage":true');
  });
});

describe('Sluice as a bench target', () => {
  it('passes the correctness check through a real `sluice serve` process', async () => {
    const tmpDir = join(REPO, 'bench', 'results', 'tmp', `smoke-${process.pid}`);
    mkdirSync(tmpDir, { recursive: true });
    const t = await sluiceBare.start({ mockPort: mock.port, tmpDir });
    try {
      expect(await verifyTarget(t.endpoint, 2)).toEqual([]);
      const pid = t.pid as number;
      expect(processTree(pid)).toContain(pid);
      expect(treeCpuMs(pid)).toBeGreaterThan(0);
      expect(treeRssMiB(pid)).toBeGreaterThan(10);
      const r = await runFixedRate({
        url: t.endpoint.url,
        headers: t.endpoint.headers,
        stream: false,
        rate: 100,
        seconds: 0.3,
        warmupSeconds: 0.1,
        connections: 4,
      });
      expect(r.valid).toBe(r.sent);
    } finally {
      await t.stop();
      rmSync(tmpDir, { recursive: true, force: true });
    }
  });
});

describe('targets table', () => {
  const tp = (stream: boolean, rps: number, cpu?: number): ThroughputResult => ({
    stream,
    connections: 50,
    seconds: 1,
    reqPerSec: summarize([rps]),
    cpuMsPerReq: cpu === undefined ? undefined : summarize([cpu]),
    p50Ms: summarize([1]),
    p99Ms: summarize([2]),
    rssPeakMiB: cpu === undefined ? undefined : 120,
    invalid: 0,
    socketErrors: 0,
    runs: [],
  });
  const target = (name: string, whole: number, stream: number, cpu?: [number, number]): TargetResult => ({
    name,
    description: '',
    throughput: [tp(false, whole, cpu?.[0]), tp(true, stream, cpu?.[1])],
    fixedRate: [],
    notes: [],
  });

  it('computes each ratio from the right pair and says when a target is met', () => {
    const results = {
      connections: [50],
      targets: [
        target('direct', 20_000, 9_000),
        target('sluice', 15_000, 6_000, [0.05, 0.2]),
        target('portkey', 1_400, 1_100, [0.7, 0.9]),
      ],
    } as unknown as BenchResults;
    const checks = new Map(evaluateTargets(results).map((c) => [c.goal.split(' (')[0], c]));
    expect(checks.get('non-stream ≥ 10x Portkey req/s on one core')).toMatchObject({
      measured: '10.7x',
      met: true,
    });
    expect(checks.get('non-stream ≤ 0.068 ms CPU per request')).toMatchObject({ met: true });
    expect(checks.get('non-stream ≥ 0.6 of direct req/s')).toMatchObject({ measured: '0.75', met: true });
    expect(checks.get('stream ≥ 5x Portkey req/s')).toMatchObject({ measured: '5.5x', met: true });
    expect(checks.get('stream ≤ 0.166 ms CPU per 20-chunk stream')).toMatchObject({
      measured: '0.200 ms',
      met: false,
    });
    expect(checks.get('≥ 20x LiteLLM req/s per core')).toMatchObject({
      measured: 'not measured',
      met: undefined,
    });
    expect(CONTENT.length).toBeGreaterThan(20);
  });
  it('checks issue 16 against the floor of the same run, and the allocation table', () => {
    const fixed = (stream: boolean, p99: number, ttft?: number) => ({
      stream,
      rate: 1000,
      seconds: 1,
      p50Ms: summarize([1]),
      p99Ms: summarize([p99]),
      ttftP50Ms: ttft === undefined ? undefined : summarize([ttft]),
      ttftP99Ms: undefined,
      achievedRate: summarize([1000]),
      invalid: 0,
      errors: 0,
      maxSendLagMs: 0,
      runs: [],
    });
    const run = (name: string, rps: number, cpu: number, p99: number, fixedP99: number, ttft: number) => ({
      name,
      description: '',
      throughput: [false, true].map((stream) => ({
        ...tp(stream, rps, cpu),
        p99Ms: summarize([p99]),
        rssPeakMiB: name === 'floor' ? 290 : 190,
      })),
      fixedRate: [fixed(false, fixedP99), fixed(true, fixedP99, ttft)],
      notes: [],
    });
    const results = {
      connections: [50, 200],
      timing: { fixedRate: 1000 },
      targets: [
        run('floor', 5000, 0.2, 10, 3, 1),
        run('sluice', 4600, 0.25, 14, 4.5, 1.2),
        {
          ...run('sluice-full', 3000, 0.4, 20, 5, 1.3),
          fixedRate: [],
          // three rounds of the stream scenario: the gateway waited while the client core was full
          throughput: [false, true].map((stream) => ({
            ...tp(stream, 3000, 0.4),
            p99Ms: summarize([20]),
            runs: [0.71, 0.74, 0.9].map((gatewayBusy, i) => ({
              gatewayBusy,
              clientCoreBusy: [0.99, 1, 0.97][i],
            })),
          })),
        },
      ],
      alloc: [
        { name: 'non-stream +metrics (shipped defaults)', stream: false, bytesPerReq: 40 * 1024 },
        { name: 'stream +metrics (shipped defaults)', stream: true, bytesPerReq: 80 * 1024 },
      ],
    } as unknown as BenchResults;
    const checks = new Map(evaluateTargets(results).map((c) => [c.goal, c]));
    const get = (goal: string) => checks.get(goal) ?? expect.fail(`no check "${goal}"`);
    expect(get('fixed 1,000 req/s: added p99 ≤ 1 ms over the floor (non-stream)')).toMatchObject({
      measured: '+1.50 ms',
      met: false,
    });
    expect(
      get('fixed 1,000 req/s: added time to first token p50 ≤ 0.3 ms over the floor (stream)'),
    ).toMatchObject({ measured: '+0.20 ms', met: true });
    expect(get("closed loop: p99 ≤ 1.5x the floor's (x50 stream)")).toMatchObject({
      measured: '1.40x',
      met: true,
    });
    expect(get("closed loop: req/s ≥ 0.9 of the floor's (x50 non-stream)")).toMatchObject({
      measured: '0.92',
      met: true,
    });
    expect(get("closed loop: CPU per request ≤ 1.3x the floor's (x50 non-stream)")).toMatchObject({
      measured: '1.25x',
      met: true,
    });
    expect(get('full policy stack on Redis ≥ 0.7 of bare Sluice req/s (x50 stream)')).toMatchObject({
      measured: "0.65 (CPU per request 1.60x bare's, gateway busy 0.74, client core busy 0.99)",
      met: false,
    });
    // the floor's RSS is not Sluice's
    expect(get('RSS under load ≤ 200 MiB (peak, any Sluice scenario with the shipped flags)')).toMatchObject({
      measured: '190 MiB',
      met: true,
    });
    expect(get('allocation per request measured per feature (bench/alloc.ts, table below)')).toMatchObject({
      measured: '40.0 / 80.0 KiB (non-stream / stream, shipped defaults)',
      met: true,
    });
  });
});

describe('allocation probe', () => {
  it('counts the bytes a process allocates, freed ones included, to within a few percent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-alloc-probe-'));
    try {
      const portFile = join(dir, 'port');
      const script = join(dir, 'allocate.mjs');
      // 20,000 arrays of 1,000 slots (~8 KB each, ~160 MB in all): most die young, some survive
      writeFileSync(
        script,
        `import { readFileSync } from 'node:fs';
        while (true) { try { readFileSync(${JSON.stringify(portFile)}); break; } catch { await new Promise((r) => setTimeout(r, 10)); } }
        const url = 'http://127.0.0.1:' + readFileSync(${JSON.stringify(portFile)}, 'utf8') + '/alloc';
        const read = async () => (await (await fetch(url)).json()).allocated;
        const a = await read(); const b = await read();
        const keep = [];
        for (let i = 0; i < 20000; i++) { const x = new Array(1000); x[0] = i; if (i % 100 === 0) keep.push(x); }
        const c = await read();
        process.stdout.write(JSON.stringify({ read: b - a, loop: c - b, kept: keep.length }));`,
      );
      const out = JSON.parse(
        execFileSync(process.execPath, ['--import', join(import.meta.dirname, 'alloc_probe.ts'), script], {
          env: { ...process.env, BENCH_ALLOC_PROBE_FILE: portFile },
          encoding: 'utf8',
        }),
      ) as { read: number; loop: number };
      // a JSArray (32 bytes) and its 1,000-slot backing store (16 + 8,000 bytes), less the cost of one read
      const expected = 20_000 * (32 + 16 + 8_000);
      expect((out.loop - out.read) / expected).toBeGreaterThan(0.97);
      expect((out.loop - out.read) / expected).toBeLessThan(1.05);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
