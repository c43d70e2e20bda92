// The dataplane with --report-lease must not load @kubernetes/client-node (~75 MiB of RSS per pod),
// and neither must the operator (its budget is 200 MiB).
// A child process imports the serve command and builds a lease reporter from a kubeconfig, with a
// module.registerHooks tracer recording every module it resolves; importing client-node itself is the
// control that shows the tracer does see it when something loads it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE_BIN, REPO_ROOT } from '../helpers/dataplane.ts';

const run = promisify(execFile);
const TRACER = join(REPO_ROOT, 'test/k8s/module_trace.ts');
const dir = mkdtempSync(join(tmpdir(), 'sluice-modtrace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** Run an ES module snippet in a fresh Node 24 with the tracer; the resolved module URLs. */
async function resolvedModules(code: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const out = join(dir, `trace-${n++}.txt`);
  await run(NODE_BIN, ['--import', TRACER, '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, SLUICE_MODULE_TRACE: out },
    timeout: 30_000,
  });
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

const underKubernetes = (urls: string[]) => urls.filter((u) => u.includes('/node_modules/@kubernetes/'));

describe('sluice serve --report-lease does not load @kubernetes/client-node', () => {
  it('importing the serve command and building a lease reporter resolves nothing under node_modules/@kubernetes', async () => {
    const urls = await resolvedModules(
      `const { serveCommand } = await import(${JSON.stringify(join(REPO_ROOT, 'cli/serve.ts'))});
       const { leaseReporterFromEnv } = await import(${JSON.stringify(join(REPO_ROOT, 'dataplane/src/k8s/lease_reporter.ts'))});
       const { pino } = await import('pino');
       const r = leaseReporterFromEnv(pino({ level: 'silent' }), process.env);
       if (typeof serveCommand.run !== 'function' || !r.leaseName) process.exit(3);`,
      {
        POD_NAME: 'trace-pod',
        POD_NAMESPACE: 'default',
        KUBECONFIG: join(REPO_ROOT, 'kube/testdata/kubeconfig/files.yaml'),
      },
    );
    // the tracer saw the dataplane, its credentials loader and their dependencies...
    expect(urls.some((u) => u.endsWith('/dataplane/src/dataplane.ts'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/kube/kube_credentials.ts'))).toBe(true);
    expect(urls.some((u) => u.includes('/node_modules/fastify/'))).toBe(true);
    // ...and nothing of @kubernetes
    expect(underKubernetes(urls)).toEqual([]);
  });

  it('nor does the operator: its informers and credentials are our own (client-node is ~88 MiB of RSS)', async () => {
    const urls = await resolvedModules(
      `await import(${JSON.stringify(join(REPO_ROOT, 'cli/operator.ts'))});
       await import(${JSON.stringify(join(REPO_ROOT, 'operator/src/controller/operator.ts'))});`,
    );
    expect(urls.some((u) => u.endsWith('/operator/src/controller/informers.ts'))).toBe(true);
    expect(underKubernetes(urls)).toEqual([]);
  });

  it('control: the tracer does catch client-node when a module loads it', async () => {
    const urls = await resolvedModules(`await import('@kubernetes/client-node');`);
    expect(underKubernetes(urls).some((u) => u.includes('/node_modules/@kubernetes/client-node/'))).toBe(
      true,
    );
  });
});
