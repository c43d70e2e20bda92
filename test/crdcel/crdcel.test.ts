// CRD validation against a real kube-apiserver: every fixture here is one bad object, and the API
// server must reject it with exactly the message in its sibling .expected file. The offline validator
// (`sluice validate -f`) must find the same problems. UPDATE_EXPECTED=1 rewrites the .expected files
// (review the diff: a changed message is a changed API).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { KubeError, resourcePath } from '../../kube/kube_rest.ts';
import { kindByName } from '../../operator/src/api/crd.ts';
import { validateResource } from '../../operator/src/validate/validate_cr.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';

const DIR = import.meta.dirname;
const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => basename(f, '.yaml'));
const NS = 'crdcel';

let env: SluiceEnv;
beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace(NS);
});
afterAll(async () => env?.stop());

async function create(doc: Record<string, unknown>): Promise<string> {
  const def = kindByName(String(doc.kind));
  if (!def) throw new Error(`unknown kind ${doc.kind}`);
  try {
    await env.rest.request('POST', resourcePath(String(doc.apiVersion), def.plural, NS), {
      body: doc,
      query: { fieldValidation: 'Strict' },
    });
    return '';
  } catch (err) {
    if (err instanceof KubeError && (err.code === 422 || err.code === 400)) return err.status.message ?? '';
    throw err;
  }
}

describe('CRD validation by the API server', () => {
  it('has cases', () => expect(CASES.length).toBeGreaterThanOrEqual(20));

  it.each(CASES)('%s is rejected with the expected message', async (name) => {
    const doc = parse(readFileSync(join(DIR, `${name}.yaml`), 'utf8')) as Record<string, unknown>;
    const message = await create(doc);
    const expectedFile = join(DIR, `${name}.expected`);
    if (process.env.UPDATE_EXPECTED === '1') writeFileSync(expectedFile, `${message}\n`);
    expect(existsSync(expectedFile), `${expectedFile} is missing (run with UPDATE_EXPECTED=1)`).toBe(true);
    const expected = readFileSync(expectedFile, 'utf8').trim();
    expect(expected).not.toBe('');
    expect(message).toBe(expected);

    // the offline validator reports the same field(s) with the same wording
    const offline = validateResource(doc).issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    expect(offline.length).toBeGreaterThan(0);
    for (const line of offline) expect(message).toContain(line);
  });

  it('accepts the samples unchanged (server-side apply, strict field validation)', async () => {
    const out = await env.kubectlOk([
      'apply',
      '--server-side',
      '--field-manager=crdcel-test',
      '--validate=strict',
      '-n',
      NS,
      '-f',
      join(DIR, '../../config/samples'),
    ]);
    expect(out).toContain('aiprovider.gateway.sluice.dev/openai serverside-applied');
    const listed = await env.kubectlOk(['get', 'sluice', '-n', NS, '-o', 'name']);
    expect(listed.trim().split('\n').sort()).toEqual([
      'ainamespace.gateway.sluice.dev/channel-001',
      'ainamespace.gateway.sluice.dev/team-a',
      'aipolicy.gateway.sluice.dev/cost-budget',
      'aipolicy.gateway.sluice.dev/token-limits',
      'aiprovider.gateway.sluice.dev/azure-openai',
      'aiprovider.gateway.sluice.dev/openai',
      'airoute.gateway.sluice.dev/chat',
    ]);
    // the API server applied the CRD defaults
    const route = JSON.parse(await env.kubectlOk(['get', 'airoute', 'chat', '-n', NS, '-o', 'json']));
    expect(route.spec.priority).toBe(0);
    expect(route.spec.retry.budgetPercent).toBe(20);
    // printer columns: provider type, models, Ready, Programmed, Age (models, like the conditions, come
    // from the status the operator writes: test/operator/route_edits.test.ts has them filled in)
    const table = await env.kubectlOk(['get', 'aiproviders', '-n', NS]);
    expect(table.split('\n')[0]?.split(/\s+/)).toEqual([
      'NAME',
      'TYPE',
      'MODELS',
      'READY',
      'PROGRAMMED',
      'AGE',
    ]);
    expect(table).toMatch(/\nopenai\s+openai\s/);
    const explain = await env.kubectlOk(['explain', 'airoute.spec.backends.weight']);
    expect(explain).toContain('share of traffic under weighted strategies');
  });
});
