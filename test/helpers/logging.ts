// Every dataplane the tests start logs at debug level into .cache/test-logs/, so the global teardown
// (test/global/log_scrub.ts) can grep every log line of the whole suite for the test secrets.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Logger, pino } from 'pino';

export const TEST_LOG_DIR = resolve(import.meta.dirname, '../../.cache/test-logs');

/** A debug-level logger writing to this worker's log file. */
export function testLogger(): Logger {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  return pino(
    { level: 'debug' },
    pino.destination({ dest: join(TEST_LOG_DIR, `worker-${process.pid}.log`), sync: true }),
  );
}

/** Append a spawned process's output to the suite's logs. */
export function recordProcessLogs(name: string, lines: string[]): void {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  appendFileSync(join(TEST_LOG_DIR, `proc-${process.pid}-${name}.log`), lines.join(''));
}
