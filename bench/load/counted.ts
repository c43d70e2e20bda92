// A fixed number of requests, closed loop with a fixed number in flight: what the allocation benchmark
// (bench/alloc.ts) divides the gateway's allocated bytes by. Counts only 2xx responses whose body passes
// the same check as the fixed-rate client; the caller decides what an invalid response means.
import { Pool } from 'undici';
import { requestBody } from '../workload.ts';
import { validBody } from './fixed_rate.ts';

export interface CountedOptions {
  url: string;
  headers: Record<string, string>;
  stream: boolean;
  count: number;
  inFlight: number;
}

export interface CountedResult {
  valid: number;
  invalid: number;
  errors: number;
  seconds: number;
}

export async function runCounted(o: CountedOptions): Promise<CountedResult> {
  const url = new URL(o.url);
  const pool = new Pool(url.origin, { connections: o.inFlight, pipelining: 1, keepAliveTimeout: 60_000 });
  const body = requestBody(o.stream);
  const headers = { 'content-type': 'application/json', ...o.headers };
  const result: CountedResult = { valid: 0, invalid: 0, errors: 0, seconds: 0 };
  const t0 = performance.now();
  let started = 0;
  await new Promise<void>((resolve) => {
    let done = 0;
    const finish = () => {
      done++;
      if (done === o.count) resolve();
      else if (started < o.count) one();
    };
    const one = () => {
      started++;
      let status = 0;
      const parts: Buffer[] = [];
      pool.dispatch(
        { origin: url.origin, path: url.pathname, method: 'POST', headers, body },
        {
          onRequestStart() {},
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          onResponseData(_c, chunk: Buffer) {
            parts.push(chunk);
          },
          onResponseEnd() {
            const ok = status >= 200 && status < 300 && validBody(o.stream, Buffer.concat(parts).toString());
            if (ok) result.valid++;
            else result.invalid++;
            finish();
          },
          onResponseError() {
            result.errors++;
            finish();
          },
        },
      );
    };
    for (let i = 0; i < Math.min(o.inFlight, o.count); i++) one();
  });
  result.seconds = (performance.now() - t0) / 1000;
  await pool.close();
  return result;
}
