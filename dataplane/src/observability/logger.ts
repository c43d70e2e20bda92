// pino JSON logs. Credentials are redacted by path, and every string a line carries (messages, errors
// and their causes, upstream texts) goes through the loaded config's Redactor, so a provider key an
// upstream echoed never reaches a log; prompt text is never logged unless server.logPrompts.
import { type Logger, pino } from 'pino';
import { redactLogValue } from '../security/redactor.ts';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'credentials',
  '*.credentials',
];

/**
 * pino's isoTime (`,"time":"<ISO 8601>"`), formatted once per millisecond: under load many lines share
 * a millisecond, and Date#toISOString was ~2% of a request's CPU in the bench profile. Same text.
 */
let lastMs = -1;
let lastTime = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * Log lines are written synchronously in batches: once 4 KiB are buffered, at least every 100 ms, at
 * exit, and at once for every warning or error (so a problem is never reported late). pino's default
 * destination hands every write to libuv's thread pool instead, and waking a pool thread cost more per
 * request than the write itself in the bench profile (docs/benchmarks.md). A pod's stdout is a pipe
 * the container runtime drains, so a 4 KiB write does not wait.
 *
 * The batch is kept here as a list of lines joined once per write, not in sonic-boom's own buffer:
 * sonic-boom appends each line to one growing string and asks its UTF-8 length for every line, which
 * flattens the whole batch each time (2.2 KiB allocated per access line, bench/alloc.ts). sonic-boom
 * still does the write itself (partial writes, EAGAIN on a full pipe).
 */
export function batchedDestination(dest: number | string): { write(line: string): void; flushSync(): void } {
  const sonic = pino.destination({ dest, sync: true, minLength: 0 });
  const lines: string[] = [];
  // UTF-16 units, not bytes: within a factor of 3 of the bytes, enough to size a batch, and free
  let buffered = 0;
  const flush = () => {
    if (lines.length === 0) return;
    const batch = lines.length === 1 ? (lines[0] as string) : lines.join('');
    lines.length = 0;
    buffered = 0;
    sonic.write(batch);
  };
  setInterval(flush, 100).unref();
  process.once('exit', () => {
    try {
      flush();
      sonic.flushSync();
    } catch {
      // stdout already closed: nothing left to write to
    }
  });
  return {
    write(line: string): void {
      lines.push(line);
      buffered += line.length;
      // every line starts with {"level":NN (createLogger keeps pino's numeric levels); 40+ is warn
      if (line.charCodeAt(9) >= 52 && line.startsWith('{"level":')) {
        flush();
        sonic.flushSync();
      } else if (buffered >= 4096) flush();
    },
    flushSync: () => {
      flush();
      sonic.flushSync();
    },
  };
}

export function createLogger(
  level = process.env.SLUICE_LOG_LEVEL ?? 'info',
  dest: number | string = process.stdout.fd ?? 1,
): Logger {
  return pino(
    {
      level,
      base: { svc: 'sluice-dataplane' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // the access line (access_log.ts) is written without pino and carries only ids, names and numbers
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => redactLogValue(a)) as typeof args);
        },
      },
      timestamp: isoTime,
    },
    batchedDestination(dest),
  );
}
