// A real OpenTelemetry Collector (.tools/bin/otelcol, built from Go modules by scripts/install-tools.sh)
// between the dataplane and the test: it receives Sluice's OTLP/HTTP protobuf export, decodes it with
// the collector's own protobuf definitions, and forwards the spans as OTLP/JSON to a small HTTP sink
// here, where tests read them.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './dataplane.ts';
import { freePort } from './redis.ts';

export const OTELCOL = join(process.env.TOOLS_BIN ?? join(REPO_ROOT, '.tools/bin'), 'otelcol');

/** OTLP span kinds and status codes as OTLP/JSON writes them (enum numbers). */
export const SPAN_KIND = { SERVER: 2, CLIENT: 3 } as const;
export const STATUS = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export interface FlatSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  /** the span contexts this span links to (not its parent) */
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, unknown>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}

function value(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attrs(list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

interface OtlpJson {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
    scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }>;
  }>;
}

function flatten(doc: OtlpJson): FlatSpan[] {
  const out: FlatSpan[] = [];
  for (const rs of doc.resourceSpans ?? []) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          traceId: String(s.traceId ?? ''),
          spanId: String(s.spanId ?? ''),
          parentSpanId: String(s.parentSpanId ?? ''),
          traceState: String(s.traceState ?? ''),
          name: String(s.name),
          kind: Number(s.kind ?? 0),
          attributes: attrs(s.attributes as Array<{ key: string; value: AnyValue }>),
          status: {
            code: Number((s.status as { code?: number } | undefined)?.code ?? 0),
            ...(s.status as object),
          },
          events: ((s.events as Array<{ name: string; attributes?: [] }> | undefined) ?? []).map((e) => ({
            name: e.name,
            attributes: attrs(e.attributes),
          })),
          links: ((s.links as Array<{ traceId?: string; spanId?: string }> | undefined) ?? []).map((l) => ({
            traceId: String(l.traceId ?? ''),
            spanId: String(l.spanId ?? ''),
          })),
          resource,
        });
  }
  return out;
}

export interface Collector {
  /** the OTLP/HTTP traces URL for server.tracing.endpoint */
  endpoint: string;
  spans: FlatSpan[];
  /** resolves with the spans of `traceId` once `count` of them arrived */
  trace(traceId: string, count: number, timeoutMs?: number): Promise<FlatSpan[]>;
  logs: string[];
  stop(): Promise<void>;
}

export async function startCollector(): Promise<Collector> {
  if (!existsSync(OTELCOL))
    throw new Error(
      `${OTELCOL} is missing: run \`bash scripts/install-tools.sh otelcol\` (CI's .ci/run does)`,
    );
  const spans: FlatSpan[] = [];
  const sink: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        spans.push(...flatten(JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpJson));
      } catch {
        // not an OTLP/JSON body: ignored, the spans a test waits for then never come
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as { port: number }).port;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-otelcol-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    stringify({
      receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}` } } } },
      exporters: {
        otlphttp: {
          endpoint: `http://127.0.0.1:${sinkPort}`,
          encoding: 'json',
          compression: 'none',
          retry_on_failure: { enabled: false },
          sending_queue: { enabled: false },
        },
      },
      service: {
        pipelines: { traces: { receivers: ['otlp'], exporters: ['otlphttp'] } },
        telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
      },
    }),
  );
  const logs: string[] = [];
  const child: ChildProcess = spawn(OTELCOL, ['--config', `file:${config}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const endpoint = `http://127.0.0.1:${port}/v1/traces`;
  // ready when the receiver answers (an empty export is a valid request)
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`otelcol exited with ${child.exitCode}:\n${logs.join('')}`);
    const ok = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`otelcol did not start:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    spans,
    logs,
    async trace(traceId, count, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = spans.filter((s) => s.traceId === traceId);
        if (found.length >= count) return found;
        if (Date.now() > end)
          throw new Error(
            `trace ${traceId}: ${found.length} of ${count} spans after ${timeoutMs} ms\n${logs.join('').slice(-2000)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      await new Promise((r) => sink.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
