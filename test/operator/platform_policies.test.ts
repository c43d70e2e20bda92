// Platform policies through the running operator (--platform-namespace): a tenant admin's AINamespace
// without policies gets the platform's, a tenant cannot list them away, and while one is broken every
// tenant is rendered as a rejected entry (403) rather than without the platform's limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { apply, condition, cr, get, OUT_NS, pathOf, startOperator, waitFor } from './helpers.ts';
import { applyProviderAndRoute, tenantEntry } from './tenant_outputs.ts';

let env: SluiceEnv;
let op: Operator;
const A = 'team-a';
const PLATFORM = 'platform';

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, A, PLATFORM]) await env.namespace(ns);
  op = await startOperator(env.kc, { platformNamespace: PLATFORM });
});
afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

describe('platform policies on a real API server', () => {
  it('apply to a tenant without policies, and a broken one fails the tenant closed', async () => {
    await applyProviderAndRoute(env.rest, A);
    await apply(env.rest, cr('AIPolicy', 'ceiling', PLATFORM, { budget: { usd: 50, window: 'month' } }));
    await apply(
      env.rest,
      cr('AINamespace', 'free', A, { match: { headers: [{ name: 'X-Team', equals: 'a' }] } }),
    );
    const entry = await waitFor('tenant rendered with the platform policy', async () => {
      const n = await tenantEntry(env.rest, 'team-a.free');
      return n?.policies.includes('platform.ceiling') && n;
    });
    expect(entry).toMatchObject({ policies: ['platform.ceiling'], routes: ['team-a.chat'] });
    expect(entry.rejected).toBeUndefined();

    // the platform breaks its policy: the tenant is not served without it
    await apply(
      env.rest,
      cr('AIPolicy', 'ceiling', PLATFORM, {
        scope: { routes: ['nope'] },
        budget: { usd: 50, window: 'month' },
      }),
    );
    const rejected = await waitFor('tenant rejected', async () => {
      const n = await tenantEntry(env.rest, 'team-a.free');
      return n?.rejected ? n : undefined;
    });
    expect(rejected.rejected).toBe(
      'not rendered: platform AIPolicy "platform/ceiling" is not accepted (InvalidRefs)',
    );
    const c = await waitFor('tenant status', async () => {
      const x = condition(await get(env.rest, pathOf('AINamespace', A, 'free')), 'ResolvedRefs');
      return x?.status === 'False' && x;
    });
    expect(c.message).toBe('platform AIPolicy "platform/ceiling" is not accepted (InvalidRefs)');
  }, 60_000);
});
