// The sidecar example (config/sidecar/deployment.yaml): its dataplane config passes `sluice
// validate`, and a real `sluice serve` with that config (only the upstream URL and the secrets
// folder pointed at this machine) answers the app's OpenAI SDK on loopback with the key from the
// mounted Secret file. The manifest itself is dry-run applied in apiserver.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type DataplaneProcess, NODE_BIN, spawnDataplane } from '../helpers/dataplane.ts';
import { get, getArray, type K8sObject, REPO_ROOT, run } from './helm.ts';

const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'config/sidecar/deployment.yaml'), 'utf8')).map(
  (d) => d.toJS() as K8sObject,
);
const configMap = docs.find((d) => d.kind === 'ConfigMap')!;
const deployment = docs.find((d) => d.kind === 'Deployment')!;
const configText = (get(configMap, 'data') as Record<string, string>)['config.yaml'] ?? '';
const config = parse(configText) as Record<string, unknown>;

describe('sidecar example', () => {
  let dir: string;
  let upstream: FakeOpenAI;
  let dp: DataplaneProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-sidecar-'));
    upstream = await startFakeOpenAI({ apiKey: 'sk-from-the-secret' });
  });
  afterAll(async () => {
    await dp?.stop();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the dataplane as a native sidecar on loopback, with the app pointed at it', () => {
    const sidecar = getArray(deployment, 'spec.template.spec.initContainers')[0];
    expect(get(sidecar, 'restartPolicy')).toBe('Always');
    expect(get(sidecar, 'args')).toEqual(['serve', '--config=/etc/sluice/config/config.yaml']);
    expect(get(config, 'server.host')).toBe('127.0.0.1');
    const app = getArray(deployment, 'spec.template.spec.containers')[0];
    const baseUrl = getArray(app, 'env').find((e) => get(e, 'name') === 'OPENAI_BASE_URL');
    expect(get(baseUrl, 'value')).toBe(`http://127.0.0.1:${String(get(config, 'server.port'))}/v1`);
    const mounts = getArray(sidecar, 'volumeMounts').map((m) => get(m, 'mountPath'));
    expect(mounts).toEqual(expect.arrayContaining(['/etc/sluice/config', get(config, 'server.secretsDir')]));
  });

  it('its config passes `sluice validate`', async () => {
    const file = join(dir, 'as-written.yaml');
    writeFileSync(file, configText);
    const r = await run(NODE_BIN, [join(REPO_ROOT, 'bin/sluice.js'), 'validate', file]);
    expect(r.stderr).toBe('');
    // the API key is a file the Secret mounts, not here: validate says it did not read it
    expect(r.stdout.trim()).toBe(`${file}: ok (1 credential not checked; --check-credentials checks them)`);
    expect(r.code).toBe(0);
  });

  it('serves the app through the OpenAI SDK with the key read from the Secret file', async () => {
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets);
    // The Secret `openai-credentials` mounted as files: key `api-key`.
    writeFileSync(join(secrets, 'api-key'), 'sk-from-the-secret');
    const local = structuredClone(config) as {
      server: Record<string, unknown>;
      providers: Record<string, unknown>[];
    };
    local.server.secretsDir = secrets;
    local.providers[0]!.baseUrl = `${upstream.url}/v1`;
    const file = join(dir, 'config.yaml');
    writeFileSync(file, stringify(local));
    dp = await spawnDataplane(file);
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(completion.choices[0]?.message.content).toContain('fake');
    expect(upstream.requests.at(-1)?.headers.authorization).toBe('Bearer sk-from-the-secret');
  });
});
