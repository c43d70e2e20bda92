// Global setup/teardown: clears the suite's log folder before the run and, after every test file has
// finished, greps every log line the dataplanes wrote for the secrets the tests use. A secret in a log
// fails the run.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_LOG_DIR } from '../helpers/logging.ts';
import { TEST_SECRETS } from '../helpers/secrets.ts';

export interface ScanResult {
  files: number;
  lines: number;
  leaks: string[];
}

export function scanLogs(dir: string, secrets: readonly string[]): ScanResult {
  const files = readdirSync(dir);
  const result: ScanResult = { files: files.length, lines: 0, leaks: [] };
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      result.lines++;
      if (secrets.some((s) => line.includes(s))) result.leaks.push(`${f}: ${line.slice(0, 300)}`);
    }
  }
  return result;
}

export function setup(): void {
  rmSync(TEST_LOG_DIR, { recursive: true, force: true });
  mkdirSync(TEST_LOG_DIR, { recursive: true });
}

export function teardown(): void {
  const r = scanLogs(TEST_LOG_DIR, TEST_SECRETS);
  console.log(
    `log scrub: ${r.lines} log lines in ${r.files} files checked for ${TEST_SECRETS.length} test secrets`,
  );
  if (r.leaks.length) throw new Error(`test secrets found in logs:\n${r.leaks.join('\n')}`);
}
