// `sluice render` and `sluice validate -f`: the offline GitOps checks, run as a user runs them.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import { runSluice } from '../helpers/sluice_cli.ts';

const ROOT = join(import.meta.dirname, '../..');
const run = runSluice;
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const BAD = `apiVersion: gateway.sluice.dev/v1alpha1
kind: AIRoute
metadata: { name: broken }
spec:
  strategy: fastest
  backends: [{ providerRef: { name: openai }, weight: -1 }]
---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIRoute
metadata: { name: dangling }
spec:
  backends: [{ providerRef: { name: nowhere } }]
---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIPolicy
metadata: { name: empty }
spec: {}
`;

describe('sluice render / validate -f', () => {
  it('validates the samples', async () => {
    const r = await run('validate', '-f', 'config/samples');
    expect(r).toMatchObject({ code: 0, stdout: '7 objects ok\n' });
  });

  it('prints the path of every bad field, schema, CEL and references alike', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-validate-'));
    dirs.push(dir);
    await writeFile(join(dir, 'bad.yaml'), BAD);
    const schema = await run('validate', '-f', join(dir, 'bad.yaml'));
    expect(schema.code).toBe(1);
    const lines = schema.stderr.trim().split('\n');
    expect(lines).toContain(
      `${dir}/bad.yaml#0: AIRoute default/broken: spec.strategy: Unsupported value: "fastest": supported values: "weighted-random", "round-robin", "least-outstanding", "latency", "cost", "complexity"`,
    );
    expect(lines).toContain(
      `${dir}/bad.yaml#0: AIRoute default/broken: spec.backends[0].weight: Invalid value: -1: spec.backends[0].weight in body should be greater than or equal to 0`,
    );
    expect(lines).toContain(
      `${dir}/bad.yaml#2: AIPolicy default/empty: spec: Invalid value: a policy must set at least one limit or filter`,
    );

    // with the schema problems fixed, references are checked with the operator's renderer
    await writeFile(
      join(dir, 'bad.yaml'),
      BAD.replace('strategy: fastest', 'strategy: cost')
        .replace('weight: -1', 'weight: 1')
        .replace('spec: {}', 'spec: { concurrency: { max: 1 } }'),
    );
    const refs = await run('validate', '-f', dir, '-n', 'prod');
    expect(refs.code).toBe(1);
    expect(refs.stderr).toContain(
      `${dir}/bad.yaml#0: AIRoute prod/broken: spec.backends[0].providerRef.name: AIProvider "openai" not found`,
    );
    expect(refs.stderr).toContain(
      `${dir}/bad.yaml#1: AIRoute prod/dangling: spec.backends[0].providerRef.name: AIProvider "nowhere" not found`,
    );
  });

  it('renders the samples into a config the dataplane accepts, and writes the Secret files', async () => {
    const out = await mkdtemp(join(tmpdir(), 'sluice-render-'));
    dirs.push(out);
    const r = await run(
      'render',
      '-f',
      'config/samples',
      '-n',
      'demo',
      '--secrets-dir',
      out,
      '--secrets-out',
      out,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cfg = validateConfig(parseConfigText(r.stdout, 'config.yaml'));
    expect(cfg.routes.map((x) => x.name)).toEqual(['demo.chat']);
    expect(await readFile(join(out, 'provider.demo.openai.apiKey'), 'utf8')).toBe(
      'sk-replace-with-your-openai-key',
    );
    expect(
      JSON.parse(await readFile(join(out, 'ainamespace.demo.team-a.apikeys.json'), 'utf8')),
    ).toHaveLength(2);
  });

  it('`sluice serve --report-lease` without the pod identity fails with a clear message', async () => {
    const env = { ...process.env };
    delete env.POD_NAME;
    delete env.POD_NAMESPACE;
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'bin/sluice.js'), 'serve', '--config', 'config/quickstart.yaml', '--report-lease'],
        { cwd: ROOT, env },
        (err, _out, stderr) => resolve({ code: err ? (err as { code: number }).code : 0, stderr }),
      );
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--report-lease needs POD_NAME and POD_NAMESPACE');
  });

  it('keeps `sluice validate FILE` for dataplane configs', async () => {
    const r = await run('validate', 'config/quickstart.yaml');
    expect(r).toMatchObject({ code: 0, stdout: 'config/quickstart.yaml: ok\n' });
  });
});
