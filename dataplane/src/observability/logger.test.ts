// The cached timestamp writes exactly what pino's isoTime writes, and moves with the clock; the
// batched destination loses nothing and delays no warning.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { type Logger, pino } from 'pino';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, isoTime, LazyChildLogger } from './logger.ts';

describe('isoTime', () => {
  afterEach(() => vi.useRealTimers());

  it('is pino.stdTimeFunctions.isoTime, once per millisecond', () => {
    vi.useFakeTimers();
    for (const t of [0, 1, 1, 999, 1_763_913_600_123, 1_763_913_600_123, 1_763_913_600_124]) {
      vi.setSystemTime(t);
      expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
    }
  });
});

describe('createLogger destination', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lines = (file: string) =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

  it('batches info lines, writes them within the flush interval, and writes warnings at once', async () => {
    const file = join(dir, 'batched.log');
    const log = createLogger('info', file);
    log.info('first');
    log.info('second');
    expect(lines(file)).toHaveLength(0);
    log.warn('trouble');
    // the warning is written at once, with everything buffered before it, in order
    expect(lines(file).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual([
      'first',
      'second',
      'trouble',
    ]);
    log.info('third');
    const deadline = Date.now() + 2000;
    while (lines(file).length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(lines(file)).toHaveLength(4);
  });

  it('writes what is still buffered when the process exits', () => {
    const file = join(dir, 'exit.log');
    const src = `import { createLogger } from ${JSON.stringify(join(import.meta.dirname, 'logger.ts'))};
      const log = createLogger('info', ${JSON.stringify(file)});
      for (let i = 0; i < 3; i++) log.info({ i }, 'line');
      process.exit(0);`;
    execFileSync(process.execPath, ['--input-type=module', '-e', src]);
    expect(lines(file).map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([0, 1, 2]);
  });
});

describe('LazyChildLogger (fastify per-request logger)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lazy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes the child only when a line is logged, with the same bindings and level', async () => {
    const file = join(dir, 'lazy.log');
    const parent = createLogger('info', file).child({ component: 'http' }, { level: 'warn' });
    const app = Fastify({
      loggerInstance: parent as unknown as FastifyBaseLogger,
      childLoggerFactory: (logger, bindings, opts) =>
        new LazyChildLogger(logger as unknown as Logger, bindings, opts) as unknown as FastifyBaseLogger,
    });
    app.get('/quiet', async (req) => {
      req.log.info('below the level: dropped without a child');
      return 'ok';
    });
    app.get('/loud', async (req) => {
      req.log.warn({ n: 1 }, 'trouble');
      return 'ok';
    });
    try {
      await app.ready();
      const child = vi.spyOn(parent, 'child');
      await app.inject({ url: '/quiet' });
      expect(child).not.toHaveBeenCalled();
      await app.inject({ url: '/loud' });
      expect(child).toHaveBeenCalledTimes(1);
      const line = JSON.parse(lines(file).at(-1) ?? '{}') as Record<string, unknown>;
      expect(line).toMatchObject({ level: 40, component: 'http', n: 1, msg: 'trouble' });
      expect(typeof line.reqId).toBe('string');
      expect(lines(file).some((l) => l.includes('below the level'))).toBe(false);
    } finally {
      await app.close();
    }
  });

  const lines = (file: string) =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
});
