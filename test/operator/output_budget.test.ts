// One tenant's Secret holding more API keys than the operator's output Secret can carry (1 MiB) must
// not freeze the gateway. Before, every render failed when writing the Secret (TooLargeError, retried
// forever): another tenant's key revocation never reached the replicas and no status said why. Now
// the oversized tenant is rejected naming the sizes, and everyone else's changes keep landing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { apply, applySecret, condition, cr, get, OUT_NS, pathOf, startOperator, waitFor } from './helpers.ts';
import { applyProviderAndRoute, renderedKeyNames } from './tenant_outputs.ts';

let env: SluiceEnv;
let op: Operator;
const A = 'team-a';
const B = 'team-b';

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, A, B]) await env.namespace(ns);
  op = await startOperator(env.kc);
});
afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

describe('output size budget on a real API server', () => {
  it('rejects the tenant whose keys do not fit, and another tenant’s revocation still lands', async () => {
    await applyProviderAndRoute(env.rest, A);
    await applySecret(env.rest, A, 'keys', { alice: 'sk-alice', mallory: 'sk-leaked' });
    await apply(
      env.rest,
      cr('AINamespace', 'small', A, { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }),
    );
    await waitFor(
      'team-a keys rendered',
      async () => (await renderedKeyNames(env.rest, A, 'small'))?.length === 2,
    );

    // 40,000 keys: about 0.5 MB as a Secret, but ~3.6 MB of name + SHA-256 entries, ~1.6 MB gzipped
    const many: Record<string, string> = {};
    for (let i = 0; i < 40_000; i++) many[`k${i}`] = `sk-${i.toString(36)}`;
    await applySecret(env.rest, B, 'many', many);
    await apply(
      env.rest,
      cr('AINamespace', 'big', B, { match: { apiKeys: { secretRefs: [{ name: 'many' }] } } }),
    );
    const big = await waitFor(
      'team-b/big rejected',
      async () => {
        const c = condition(await get(env.rest, pathOf('AINamespace', B, 'big')), 'Accepted');
        return c?.status === 'False' && c;
      },
      30_000,
    );
    expect(big.reason).toBe('Invalid');
    expect(big.message).toMatch(
      /does not fit: the Secret the operator writes would need \d+ bytes, over the 1048576-byte object limit/,
    );

    // the leaked key is revoked in team-a: the gateway is not frozen by team-b's object
    await applySecret(env.rest, A, 'keys', { alice: 'sk-alice' });
    await env.rest.request('PATCH', `/api/v1/namespaces/${A}/secrets/keys`, {
      body: [{ op: 'remove', path: '/data/mallory' }],
      contentType: 'application/json-patch+json',
    });
    await waitFor(
      'revocation rendered',
      async () => {
        const keys = await renderedKeyNames(env.rest, A, 'small');
        return keys?.length === 1 && keys[0] === 'keys.alice';
      },
      30_000,
    );
    expect(await renderedKeyNames(env.rest, B, 'big')).toBeUndefined();
  }, 90_000);
});
