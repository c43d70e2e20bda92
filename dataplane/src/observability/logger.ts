// pino JSON logs. Credentials are redacted by path, and every string a line carries (messages, errors
// and their causes, upstream texts) goes through the loaded config's Redactor, so a provider key an
// upstream echoed never reaches a log; prompt text is never logged unless server.logPrompts.
import { type Bindings, type ChildLoggerOptions, type Logger, pino } from 'pino';
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

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogArgs = Parameters<Logger['info']>;

/**
 * The per-request logger fastify gives every request (bound to its reqId), made only when something
 * logs through it. fastify builds one per request with pino's child(), which runs the bindings through
 * the redaction setup (~1.2 KiB allocated per request, bench/alloc.ts); Sluice writes its own access
 * line and nothing on the request path logs through fastify's, so on nearly every request the child
 * was never used. What a line logged through it contains is unchanged.
 */
export class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #opts: ChildLoggerOptions;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, opts: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#opts);
    return this.#child;
  }

  /** without a level of its own the child logs exactly what its parent logs: no need to make it */
  #log(level: Level, args: LogArgs): void {
    if (this.#child === undefined && this.#opts.level === undefined && !this.#parent.isLevelEnabled(level))
      return;
    (this.#real()[level] as (...a: LogArgs) => void)(...args);
  }

  fatal(...args: LogArgs): void {
    this.#log('fatal', args);
  }
  error(...args: LogArgs): void {
    this.#log('error', args);
  }
  warn(...args: LogArgs): void {
    this.#log('warn', args);
  }
  info(...args: LogArgs): void {
    this.#log('info', args);
  }
  debug(...args: LogArgs): void {
    this.#log('debug', args);
  }
  trace(...args: LogArgs): void {
    this.#log('trace', args);
  }
  silent(): void {}
  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.#real().child(bindings, opts);
  }
  isLevelEnabled(level: string): boolean {
    return this.#real().isLevelEnabled(level);
  }
  get level(): string {
    return this.#real().level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
}
