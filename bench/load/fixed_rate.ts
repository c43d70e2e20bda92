// Open-loop, fixed-rate load (wrk2 style) with latency and time to first token, run as its own process
// pinned to the client core: `node bench/load/fixed_rate.ts '<json options>'` prints one JSON result.
// Every request has a scheduled send time (t0 + i/rate); latency is measured from that time, not from
// when the request actually left, so a stalled target is charged for the queue it causes
// (no coordinated omission). Only 2xx responses whose body passes the check are counted.
import { Pool } from 'undici';
import { requestBody, USAGE } from '../workload.ts';

export interface FixedRateOptions {
  url: string;
  headers: Record<string, string>;
  stream: boolean;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface FixedRateResult {
  sent: number;
  valid: number;
  invalid: number;
  errors: number;
  achievedRate: number;
  latencyMs: Percentiles;
  /** streams only: scheduled send -> first body bytes */
  ttftMs?: Percentiles;
  /** worst lateness of the sender's own schedule (if large, the client itself was overloaded) */
  maxSendLagMs: number;
}

export function percentiles(values: Float64Array, n: number): Percentiles {
  const a = values.slice(0, n).sort();
  const at = (q: number) => (n === 0 ? 0 : (a[Math.min(n - 1, Math.floor(q * n))] as number));
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: n === 0 ? 0 : (a[n - 1] as number) };
}

const USAGE_RE = new RegExp(`"completion_tokens"\\s*:\\s*${USAGE.completion_tokens}\\b`);

export function validBody(stream: boolean, body: string): boolean {
  if (!USAGE_RE.test(body)) return false;
  return stream ? /data: \[DONE\]\s*$/.test(body) : /"finish_reason"\s*:\s*"stop"/.test(body);
}

export async function runFixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  const url = new URL(o.url);
  const pool = new Pool(url.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const body = requestBody(o.stream);
  const headers = { 'content-type': 'application/json', ...o.headers };
  const capacity = Math.ceil(o.rate * o.seconds * 1.2) + 16;
  const latency = new Float64Array(capacity);
  const ttft = new Float64Array(capacity);
  let recorded = 0;
  let valid = 0;
  let invalid = 0;
  let errors = 0;
  let outstanding = 0;
  let measuring = false;

  const one = (scheduled: number, measured: boolean) => {
    let status = 0;
    let first = 0;
    const parts: Buffer[] = [];
    outstanding++;
    pool.dispatch(
      { origin: url.origin, path: url.pathname, method: 'POST', headers, body },
      {
        onRequestStart() {},
        onResponseStart(_c, statusCode) {
          status = statusCode;
        },
        onResponseData(_c, chunk: Buffer) {
          if (first === 0) first = performance.now();
          parts.push(chunk);
        },
        onResponseEnd() {
          const end = performance.now();
          outstanding--;
          if (!measured) return;
          const ok = status >= 200 && status < 300 && validBody(o.stream, Buffer.concat(parts).toString());
          if (!ok) {
            invalid++;
            return;
          }
          valid++;
          if (recorded < capacity) {
            latency[recorded] = end - scheduled;
            ttft[recorded] = (first || end) - scheduled;
            recorded++;
          }
        },
        onResponseError() {
          outstanding--;
          if (measured) errors++;
        },
      },
    );
  };

  const phase = (seconds: number, measured: boolean) =>
    new Promise<{ sent: number; lag: number }>((resolve) => {
      const t0 = performance.now();
      const total = Math.round(o.rate * seconds);
      const interval = 1000 / o.rate;
      let sent = 0;
      let lag = 0;
      const tick = () => {
        const now = performance.now();
        while (sent < total) {
          const scheduled = t0 + sent * interval;
          if (scheduled > now) break;
          lag = Math.max(lag, now - scheduled);
          one(scheduled, measured);
          sent++;
        }
        if (sent >= total) {
          clearInterval(timer);
          resolve({ sent, lag });
        }
      };
      const timer = setInterval(tick, 1);
    });

  await phase(o.warmupSeconds, false);
  measuring = true;
  const started = performance.now();
  const { sent, lag } = await phase(o.seconds, measuring);
  const deadline = performance.now() + 15_000;
  while (outstanding > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return {
    sent,
    valid,
    invalid,
    errors: errors + outstanding,
    achievedRate: valid / elapsed,
    latencyMs: percentiles(latency, recorded),
    ttftMs: o.stream ? percentiles(ttft, recorded) : undefined,
    maxSendLagMs: lag,
  };
}

if (import.meta.main) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as FixedRateOptions;
  const result = await runFixedRate(opts);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
