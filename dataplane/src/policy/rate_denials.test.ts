// Which request-rate denials may refuse a caller's next requests before their bodies are read: only
// those every request of that caller would get, for as long as the bucket takes to refill.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { apiKeyCaller, jwtCaller } from './caller.ts';
import type { CompiledPolicy } from './compile.ts';
import { RateDenials } from './rate_denials.ts';

function policy(scope?: CompiledPolicy['config']['scope']): CompiledPolicy {
  return {
    name: 'p',
    config: { name: 'p', requests: { limit: 1, window: 'minute' }, ...(scope ? { scope } : {}) },
    appliesTo: () => true,
    filters: [],
    modelAllowed: undefined,
    needsTokens: false,
    needsStore: true,
  };
}

const refusal = (ms: number) => new GatewayError('SLUICE_ERR_RATE_LIMITED', `retry in ${ms}`);

describe('RateDenials', () => {
  it("refuses the namespace's callers until the bucket refills, with the time that is left", () => {
    const d = new RateDenials();
    d.note({ namespace: 'a', keyName: 'k1', caller: 'k1' }, policy(), 5_000, 1_000, refusal);
    expect(d.refusal({ namespace: 'a', keyName: 'k2', caller: 'k2' }, 2_000)?.message).toBe('retry in 4000');
    expect(d.refusal({ namespace: 'b', keyName: 'k1', caller: 'k1' }, 2_000)).toBeUndefined();
    expect(d.refusal({ namespace: 'a', keyName: 'k1', caller: 'k1' }, 6_000)).toBeUndefined();
  });

  it("forgets a denial once the store answers differently (Redis back after the fallback's refusal)", () => {
    let mode = 'local-fallback';
    const d = new RateDenials(() => mode);
    d.note({ namespace: 'a' }, policy(), 60_000, 0, refusal);
    expect(d.refusal({ namespace: 'a' }, 1_000)).toBeDefined();
    // Redis is back: its shared bucket decides, not this replica's share of the outage
    mode = 'shared';
    expect(d.refusal({ namespace: 'a' }, 2_000)).toBeUndefined();
    // and a denial Redis gave does not outlive Redis either
    d.note({ namespace: 'a' }, policy(), 60_000, 3_000, refusal);
    expect(d.refusal({ namespace: 'a' }, 4_000)).toBeDefined();
    mode = 'local-fallback';
    expect(d.refusal({ namespace: 'a' }, 5_000)).toBeUndefined();
  });

  it('refuses only the API key of a per-key policy', () => {
    const d = new RateDenials();
    d.note({ namespace: 'a', keyName: 'k1', caller: 'k1' }, policy({ perApiKey: true }), 5_000, 0, refusal);
    expect(d.refusal({ namespace: 'a', keyName: 'k1', caller: 'k1' }, 1)).toBeDefined();
    expect(d.refusal({ namespace: 'a', keyName: 'k2', caller: 'k2' }, 1)).toBeUndefined();
    expect(d.refusal({ namespace: 'a' }, 1)).toBeUndefined();
  });

  it("never refuses one caller for another's denial, whatever their names (policy/caller.ts)", () => {
    const d = new RateDenials();
    const jwt = { namespace: 'a', keyName: 'jwt:x', caller: jwtCaller('x') };
    d.note(jwt, policy({ perApiKey: true }), 5_000, 0, refusal);
    d.note(
      { namespace: 'a', keyName: '-', caller: apiKeyCaller('-') },
      policy({ perApiKey: true }),
      5_000,
      0,
      refusal,
    );
    expect(d.refusal(jwt, 1)).toBeDefined();
    expect(d.refusal({ namespace: 'a', keyName: 'jwt:x', caller: apiKeyCaller('jwt:x') }, 1)).toBeUndefined();
    expect(d.refusal({ namespace: 'a' }, 1)).toBeUndefined();
  });

  it('never remembers a policy scoped to some routes or models (the next request may go elsewhere)', () => {
    const d = new RateDenials();
    d.note({ namespace: 'a' }, policy({ perApiKey: false, routes: ['r'] }), 5_000, 0, refusal);
    d.note({ namespace: 'a' }, policy({ perApiKey: false, models: ['m'] }), 5_000, 0, refusal);
    expect(d.refusal({ namespace: 'a' }, 1)).toBeUndefined();
  });
});
