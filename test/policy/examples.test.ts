// The example configs load with the config loader (the path-reporting validator `sluice validate` uses)
// and compile into a policy gate; the quick-start keeps answering without credentials.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeSecretReader } from '../../dataplane/src/compiled/compile.ts';
import { loadConfigFile } from '../../dataplane/src/config/load.ts';
import { createPolicyGate } from '../../dataplane/src/policy/gate.ts';
import { REPO_ROOT, startDataplane } from '../helpers/dataplane.ts';
import { client, sdkError } from './fixtures.ts';

const TENANTS = join(REPO_ROOT, 'config/examples/tenants.yaml');
const QUICKSTART = join(REPO_ROOT, 'config/quickstart.yaml');
const env = { SLUICE_JWT_SECRET: 'change-me-to-32-random-bytes-0000' };
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of stops) await s();
});

describe('config/examples/tenants.yaml', () => {
  it('validates and names its three tenants', async () => {
    const cfg = await loadConfigFile(TENANTS);
    expect(cfg.namespaces.map((n) => [n.name, Object.keys(n.match)])).toEqual([
      ['team-alpha', ['apiKeys']],
      ['partner-channel', ['headers']],
      ['internal-jwt', ['jwt']],
    ]);
    expect(cfg.policies.some((p) => p.budget) && cfg.policies.some((p) => p.tokens)).toBe(true);
  });

  it('compiles into a policy gate (regexes, JWT key, matchers)', async () => {
    const cfg = await loadConfigFile(TENANTS);
    const gate = await createPolicyGate(cfg, makeSecretReader(join(REPO_ROOT, 'config/examples'), env));
    stops.push(() => gate.close());
    expect(await gate.identify({ authorization: 'Bearer sk-demo-team-alpha' })).toEqual({
      namespace: 'team-alpha',
      keyName: 'alpha-app',
      caller: 'alpha-app',
    });
    expect(await gate.identify({ 'x-channel-code': 'CH-1002' })).toEqual({ namespace: 'partner-channel' });
  });

  it('serves the documented curl example', async () => {
    process.env.SLUICE_JWT_SECRET = env.SLUICE_JWT_SECRET;
    const cfg = await loadConfigFile(TENANTS);
    const dp = await startDataplane({ ...cfg, server: { ...cfg.server, port: 0 } });
    stops.push(() => dp.stop());
    const res = await client(dp.baseURL, 'sk-demo-team-alpha')
      .chat.completions.create({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(res.response.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(res.data.choices[0]?.message.content).toBeTruthy();
    const blocked = await sdkError(
      client(dp.baseURL, 'sk-demo-team-alpha').chat.completions.create({
        model: 'mock-small',
        messages: [{ role: 'user', content: 'card 4111 1111 1111 1111 please' }],
      }),
    );
    expect(blocked.code).toBe('SLUICE_ERR_CONTENT_FILTERED');
  });
});

describe('config/quickstart.yaml', () => {
  it('still answers without any credentials', async () => {
    const cfg = await loadConfigFile(QUICKSTART);
    expect(cfg.namespaces).toEqual([]);
    const dp = await startDataplane({ ...cfg, server: { ...cfg.server, port: 0 } });
    stops.push(() => dp.stop());
    const r = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
  });
});
