// Soak test: a bounded run of mixed streaming / non-streaming traffic through a real `sluice serve`
// process with policies on (API-key tenant, request and token limits) and a config reload every 30 s.
// Reports the error count (target 0), RSS after warm-up and at the end (target: growth < 10%),
// p99 latency per minute (drift) and the event-loop delay p99 the process reports.
//
//   node scripts/soak.ts [--minutes 10] [--concurrency 16] [--reload-seconds 30] [--json out.json]
//
// Everything runs on 127.0.0.1; the run stops by itself after --minutes.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const CLIENT_KEY = 'sk-soak-client';

export interface SoakOptions {
  minutes: number;
  concurrency: number;
  reloadSeconds: number;
}

export interface SoakResult {
  minutes: number;
  concurrency: number;
  requests: number;
  streams: number;
  errors: number;
  errorSamples: string[];
  reloads: number;
  rssAfterWarmupMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  rssGrowthPercent: number;
  p99ByMinuteMs: number[];
  p99DriftMs: number;
  eventLoopDelayP99MaxMs: number;
  node: string;
  date: string;
}

function config(generation: number): string {
  // every request carries the soak tenant's key: no access mode (open is refused next to namespaces)
  return stringify({
    server: { host: '127.0.0.1', port: 0 },
    providers: [
      {
        name: 'mock',
        type: 'mock',
        models: [{ name: 'gpt-4o-mini', pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 } }],
        mock: { latencyMs: 5, chunkDelayMs: 1, outputTokens: 20, chunkTokens: 1 },
      },
    ],
    routes: [
      {
        name: `soak-${generation % 2}`,
        match: { models: ['gpt-4o-mini'] },
        strategy: generation % 2 ? 'round-robin' : 'weighted-random',
        backends: [{ provider: 'mock' }],
      },
    ],
    namespaces: [
      {
        name: 'soak',
        match: { apiKeys: [{ name: 'soak', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] },
        policies: ['generous'],
      },
    ],
    policies: [
      {
        name: 'generous',
        requests: { limit: 10_000_000, window: 'minute' },
        tokens: [{ limit: 1_000_000_000, window: 'minute', kind: 'total' }],
        maxOutputTokens: { limit: 1000, mode: 'clamp' },
      },
    ],
  });
}

function rssMiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(m?.[1] ?? 0) / 1024;
}

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

async function startGateway(file: string): Promise<{ child: ChildProcess; url: string; adminUrl: string }> {
  const child = spawn(
    join(ROOT, 'node_modules/.bin/node'),
    [join(ROOT, 'bin/sluice.js'), 'serve', '--config', file],
    {
      // info, as in production: one JSON line per request, drained (and dropped) below
      env: { ...process.env, SLUICE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let adminUrl = '';
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('gateway did not start')), 20_000);
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/"address":"([^"]+)"/);
      if (m?.[1]) {
        // /metrics is on the admin port
        adminUrl = buf.match(/"adminAddress":"([^"]+)"/)?.[1] ?? '';
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        res(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => rej(new Error(`gateway exited ${code}`)));
  });
  return { child, url, adminUrl };
}

async function eventLoopP99Ms(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(/^nodejs_eventloop_lag_p99_seconds (\S+)/m);
  return m ? Number(m[1]) * 1000 : 0;
}

export async function soak(opts: SoakOptions, log: (s: string) => void = console.log): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-soak-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, config(0));
  const { child, url, adminUrl } = await startGateway(file);
  const pid = child.pid as number;
  const pool = new Pool(url, { connections: opts.concurrency });
  const started = Date.now();
  const endAt = started + opts.minutes * 60_000;
  const warmupAt = started + Math.min(60_000, (opts.minutes * 60_000) / 5);
  const latencies: number[][] = [];
  const result = { requests: 0, streams: 0, errors: 0, errorSamples: [] as string[], reloads: 0 };
  let rssAfterWarmup = 0;
  let rssMax = 0;
  let evMax = 0;

  const body = (stream: boolean) =>
    JSON.stringify({
      model: 'gpt-4o-mini',
      stream,
      messages: [{ role: 'user', content: 'Tell me about sluice gates.' }],
    });

  const one = async (stream: boolean) => {
    const t0 = performance.now();
    try {
      const res = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
        body: body(stream),
      });
      const text = await res.body.text();
      const ok =
        res.statusCode === 200 &&
        (stream
          ? text.includes('"finish_reason":"stop"') && text.endsWith('data: [DONE]\n\n')
          : text.includes('"finish_reason":"stop"'));
      if (!ok) throw new Error(`status ${res.statusCode}: ${text.slice(0, 200)}`);
      const minute = Math.floor((Date.now() - started) / 60_000);
      latencies[minute] ??= [];
      latencies[minute].push(performance.now() - t0);
      result.requests++;
      if (stream) result.streams++;
    } catch (err) {
      result.errors++;
      if (result.errorSamples.length < 10) result.errorSamples.push(String((err as Error).message ?? err));
    }
  };

  const workers = Array.from({ length: opts.concurrency }, async (_, w) => {
    let i = 0;
    while (Date.now() < endAt) await one((w + i++) % 2 === 0);
  });

  const sampler = setInterval(async () => {
    const rss = rssMiB(pid);
    rssMax = Math.max(rssMax, rss);
    if (!rssAfterWarmup && Date.now() >= warmupAt) rssAfterWarmup = rss;
    evMax = Math.max(evMax, await eventLoopP99Ms(adminUrl).catch(() => 0));
  }, 5_000);
  const reloader = setInterval(() => {
    const tmp = join(dir, '.next.yaml');
    writeFileSync(tmp, config(++result.reloads));
    renameSync(tmp, file);
    log(
      `soak: ${Math.round((Date.now() - started) / 1000)} s, ${result.requests} requests, ${result.errors} errors, reload ${result.reloads}, RSS ${rssMiB(pid).toFixed(1)} MiB`,
    );
  }, opts.reloadSeconds * 1000);

  await Promise.all(workers);
  clearInterval(sampler);
  clearInterval(reloader);
  const rssEnd = rssMiB(pid);
  evMax = Math.max(evMax, await eventLoopP99Ms(adminUrl).catch(() => 0));
  await pool.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });

  const p99s = latencies.filter(Boolean).map((l) => Math.round(p99(l) * 100) / 100);
  if (!rssAfterWarmup) rssAfterWarmup = rssEnd;
  return {
    minutes: opts.minutes,
    concurrency: opts.concurrency,
    ...result,
    rssAfterWarmupMiB: Math.round(rssAfterWarmup * 10) / 10,
    rssEndMiB: Math.round(rssEnd * 10) / 10,
    rssMaxMiB: Math.round(rssMax * 10) / 10,
    rssGrowthPercent: Math.round(((rssEnd - rssAfterWarmup) / rssAfterWarmup) * 1000) / 10,
    p99ByMinuteMs: p99s,
    p99DriftMs: p99s.length > 1 ? Math.round(((p99s.at(-1) ?? 0) - (p99s[0] ?? 0)) * 100) / 100 : 0,
    eventLoopDelayP99MaxMs: Math.round(evMax * 100) / 100,
    node: process.version,
    date: new Date().toISOString(),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '16' },
      'reload-seconds': { type: 'string', default: '30' },
      json: { type: 'string' },
    },
  });
  const r = await soak({
    minutes: Number(values.minutes),
    concurrency: Number(values.concurrency),
    reloadSeconds: Number(values['reload-seconds']),
  });
  console.log(JSON.stringify(r, null, 2));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(r, null, 2)}\n`);
  process.exitCode = r.errors === 0 ? 0 : 1;
}
