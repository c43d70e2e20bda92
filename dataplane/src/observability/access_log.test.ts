import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type AccessEntry, accessWriter, quotedNamesHeld } from './access_log.ts';
import { createLogger } from './logger.ts';

/** A pino logger like createLogger's, writing synchronously into an array of lines. */
function capture(opts: pino.LoggerOptions = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = pino(
    { level: 'info', base: { svc: 'sluice-dataplane' }, timestamp: () => ',"time":"T"', ...opts },
    dest,
  );
  return { log, lines };
}

const full: AccessEntry = {
  reqId: 'b6f0c3a2-1111-4222-8333-944455556666',
  namespace: 'team-a',
  route: 'chat',
  model: 'gpt-4o-mini',
  provider: 'openai',
  status: 200,
  code: 'ok',
  inputTokens: 31,
  outputTokens: 20,
  cache: 'miss',
  truncated: false,
  ms: 12,
};

const sparse: AccessEntry = {
  reqId: 'r-1',
  namespace: undefined,
  route: undefined,
  model: undefined,
  provider: undefined,
  status: 400,
  code: 'SLUICE_ERR_INVALID_REQUEST',
  inputTokens: undefined,
  outputTokens: undefined,
  cache: undefined,
  truncated: undefined,
  ms: 0,
};

// Client-chosen text reaches the line through the model name: quotes, backslashes, control and
// non-ASCII characters, a fake field.
const hostile: AccessEntry = {
  ...full,
  model: 'gpt"},"status":500,"x":"\\\n\t\u0001é世界\u2028',
  truncated: true,
  cache: 'hit',
};

describe('access log line', () => {
  it.each([
    ['every field', full],
    ['only the fields every request has', sparse],
    ['client text that needs escaping', hostile],
  ])('is byte for byte the line pino writes for the same object: %s', (_name, entry) => {
    const fast = capture();
    accessWriter(fast.log)(entry);
    const slow = capture();
    slow.log.info(entry, 'request');
    expect(fast.lines).toHaveLength(1);
    expect(fast.lines[0]).toBe(slow.lines[0]);
    const parsed = JSON.parse(fast.lines[0] as string) as Record<string, unknown>;
    expect(parsed.model).toBe(entry.model);
    expect(parsed.status).toBe(entry.status);
    expect(parsed.msg).toBe('request');
  });

  it('carries the bindings of a child logger', () => {
    const c = capture();
    const child = c.log.child({ pod: 'dp-0' });
    accessWriter(child)(sparse);
    expect(JSON.parse(c.lines[0] as string)).toMatchObject({
      svc: 'sluice-dataplane',
      pod: 'dp-0',
      reqId: 'r-1',
    });
  });

  it('writes nothing when the level hides info, and follows level changes', () => {
    const c = capture({ level: 'warn' });
    const write = accessWriter(c.log);
    write(full);
    expect(c.lines).toHaveLength(0);
    c.log.level = 'debug';
    write(full);
    expect(c.lines).toHaveLength(1);
  });

  it('goes through pino for loggers whose lines it cannot mirror', () => {
    const c = capture({ formatters: { level: (label) => ({ level: label }) }, mixin: () => ({ m: 1 }) });
    accessWriter(c.log)(sparse);
    expect(JSON.parse(c.lines[0] as string)).toMatchObject({
      level: 'info',
      m: 1,
      reqId: 'r-1',
      msg: 'request',
    });
  });

  it('works with the logger sluice serve uses (its own timestamp and redaction)', () => {
    const log = createLogger('info');
    // its destination is stdout: capture the stream's writes for one line
    const lines: string[] = [];
    const stream = (log as unknown as Record<symbol, { write(s: string): void }>)[pino.symbols.streamSym];
    const original = stream?.write;
    if (!stream || !original) throw new Error('createLogger has no stream');
    stream.write = (s: string) => {
      lines.push(s);
    };
    try {
      accessWriter(log)(full);
    } finally {
      stream.write = original;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\{"level":30,"time":"\d{4}-\d\d-\d\dT[\d:.]+Z","svc":"sluice-dataplane","reqId":/,
    );
    expect(JSON.parse(lines[0] as string)).toMatchObject({ ...full, msg: 'request' });
  });

  it('quotes names an upstream makes up on every line exactly, and holds only a bounded number of them', () => {
    const fast = capture();
    const slow = capture();
    const write = accessWriter(fast.log);
    // more distinct models than are held, some too long to hold, then the first ones again
    const models = Array.from({ length: 3000 }, (_, i) =>
      i % 7 === 0 ? `m${i}"\\${'x'.repeat(300)}` : `model-${i}\u00e9"`,
    );
    for (const model of [...models, ...models.slice(0, 50)]) {
      const entry = { ...full, model };
      write(entry);
      slow.log.info(entry, 'request');
    }
    expect(fast.lines).toEqual(slow.lines);
    expect(quotedNamesHeld()).toBeGreaterThan(0);
    expect(quotedNamesHeld()).toBeLessThanOrEqual(1024);
  });
});
