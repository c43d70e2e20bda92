// The preflight's folder holds provider credentials: it must not outlive the process, also when the
// process exits at once (the operator's CLI does on lost leadership) without closing its checks.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const NODE = resolve(import.meta.dirname, '../../../node_modules/.bin/node');
const tmp = mkdtempSync(join(tmpdir(), 'sluice-loadable-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const child = `
import { LoadCheck } from ${JSON.stringify(resolve(import.meta.dirname, 'loadable.ts'))};
import { validateConfig } from ${JSON.stringify(resolve(import.meta.dirname, 'load.ts'))};
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
const config = validateConfig({
  access: 'open',
  providers: [{ name: 'p', type: 'openai', baseUrl: 'http://127.0.0.1:9', credentials: { apiKey: { file: 'p.key' } } }],
  routes: [{ name: 'r', match: {}, backends: [{ provider: 'p' }] }],
});
const issues = await new LoadCheck().issues(config, { 'p.key': 'sk-secret' });
console.log(JSON.stringify({ issues, during: readdirSync(tmpdir()) }));
process.exit(1);
`;

describe('LoadCheck', () => {
  it('removes its folder of secret files when the process exits without closing it', () => {
    const run = spawnSync(NODE, ['--input-type=module', '-e', child], {
      env: { ...process.env, TMPDIR: tmp },
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(1);
    const out = JSON.parse(run.stdout) as { issues: unknown[]; during: string[] };
    expect(out.issues).toEqual([]);
    expect(out.during.filter((f) => f.startsWith('sluice-preflight-'))).toHaveLength(1);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
