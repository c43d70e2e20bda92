// The cached timestamp writes exactly what pino's isoTime writes, and moves with the clock.
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoTime } from './logger.ts';

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
