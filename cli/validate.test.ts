// `sluice validate` as a user runs it: a real process, exit codes, and one line per bad field path.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDir, NODE_BIN, REPO_ROOT } from '../test/helpers/dataplane.ts';

function sluice(...args: string[]) {
  return spawnSync(NODE_BIN, [join(REPO_ROOT, 'bin/sluice.js'), ...args], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
  });
}

describe('sluice validate', () => {
  it('accepts the quick-start config', () => {
    const r = sluice('validate', 'config/quickstart.yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('config/quickstart.yaml: ok');
  });

  it('prints the path of each bad field and exits 1', () => {
    const dir = configDir({
      providers: [{ name: 'm', type: 'mock' }],
      routes: [{ name: 'r', strategy: 'nope', backends: [{ provider: 'x' }] }],
    });
    const r = sluice('validate', dir.file);
    dir.cleanup();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/routes\[0\]\.strategy: Invalid option/);
  });

  it('reports policy errors the dataplane would refuse to load (bad filter regex, unknown scoped route)', () => {
    const dir = configDir({
      providers: [{ name: 'm', type: 'mock' }],
      routes: [{ name: 'r', backends: [{ provider: 'm' }] }],
      namespaces: [{ name: 't', default: true, policies: ['p'] }],
      policies: [
        { name: 'p', contentFilters: [{ name: 'bad', pattern: '([a-z' }], scope: { routes: ['nope'] } },
      ],
    });
    const r = sluice('validate', dir.file);
    dir.cleanup();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/policies\[0\]\.scope\.routes\[0\]: unknown route "nope"/);
    expect(r.stderr).toMatch(/policies\[0\]\.contentFilters\[0\]\.pattern: invalid regular expression/);
  });

  it('reports unparseable YAML', () => {
    const dir = configDir('x');
    writeFileSync(dir.file, 'providers: [unclosed\n');
    const r = sluice('validate', dir.file);
    dir.cleanup();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\(root\): cannot parse/);
  });

  it('lists the commands and rejects an unknown one', () => {
    expect(sluice('--help').stdout).toMatch(/serve\s+run the dataplane/);
    const r = sluice('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });
});
