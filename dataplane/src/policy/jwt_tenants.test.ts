// The work one JWT may cost: a token carrying many claims, each naming a namespace, must not buy a
// signature verification per claim, and rules that cannot fit the token are never verified.
import type { JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import type { JwtMatcher } from './jwt.ts';
import { JwtTenants, MAX_JWT_CANDIDATES } from './jwt_tenants.ts';

/** An unsigned token with this header and payload (the rules below never check a signature). */
function token(claims: JWTPayload, alg = 'RS256'): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg })}.${part(claims)}.sig`;
}

/** Rules that count their verifications and accept a token when `accepts` says so. */
function rules(count: number, accepts: (i: number) => boolean, extra: Partial<JwtMatcher> = {}) {
  const calls = { n: 0 };
  const tenants = new JwtTenants();
  for (let i = 0; i < count; i++)
    tenants.add({
      namespace: `ns-${i}`,
      claim: `c${i}`,
      algorithms: ['RS256'],
      async verify() {
        calls.n++;
        if (accepts(i)) return { sub: `user-${i}` };
        throw Object.assign(new Error('signature verification failed'), {
          code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
        });
      },
      ...extra,
    });
  return { tenants, calls };
}

function naming(n: number): JWTPayload {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, `ns-${i}`]));
}

describe('JwtTenants', () => {
  it('refuses a token naming more namespaces than the bound without verifying any', async () => {
    const { tenants, calls } = rules(1000, () => true);
    const claims = naming(1000);
    const r = await tenants.resolve(token(claims), claims);
    expect(r).toMatchObject({ kind: 'refused', message: expect.stringContaining('more than 4 namespaces') });
    expect(calls.n).toBe(0);
  });

  it('attributes a token that exactly one of several named rules verifies', async () => {
    const { tenants, calls } = rules(10, (i) => i === 2);
    const claims = naming(MAX_JWT_CANDIDATES);
    const r = await tenants.resolve(token(claims), claims);
    expect(r).toEqual({ kind: 'verified', namespace: 'ns-2', payload: { sub: 'user-2' } });
    expect(calls.n).toBe(MAX_JWT_CANDIDATES);
  });

  it('refuses a token two rules verify, whichever comes first, and logs the pair once', async () => {
    const warned: object[] = [];
    const tenants = new JwtTenants({ warn: (obj) => warned.push(obj) });
    for (const [namespace, claim] of [
      ['ns-0', 'c0'],
      ['ns-1', 'c1'],
    ] as const)
      tenants.add({ namespace, claim, algorithms: ['RS256'], verify: async () => ({}) });
    const claims = naming(2);
    for (let i = 0; i < 3; i++)
      expect(await tenants.resolve(token(claims), claims)).toMatchObject({
        kind: 'refused',
        message: expect.stringContaining('more than one namespace'),
      });
    expect(warned).toEqual([{ reason: 'several_verify', namespaces: ['ns-0', 'ns-1'] }]);
  });

  it('never verifies a rule whose algorithms or issuer the token does not fit', async () => {
    const { tenants, calls } = rules(1000, () => false, { issuer: 'https://other.example' });
    const claims = { ...naming(1000), iss: 'https://idp.example' };
    const r = await tenants.resolve(token(claims), claims);
    // one verification, for the reason the 401 gives (jose's own words about the issuer)
    expect(r.kind).toBe('refused');
    expect(calls.n).toBe(1);
    const es = rules(1000, () => true);
    expect((await es.tenants.resolve(token(naming(1000), 'ES256'), naming(1000))).kind).toBe('refused');
    expect(es.calls.n).toBe(1);
  });

  it('does not read names from the prototype or values that are not strings', async () => {
    const { tenants, calls } = rules(2, () => true);
    const claims = { c0: ['ns-0'], toString: 'ns-1' } as unknown as JWTPayload;
    expect(await tenants.resolve(token(claims), claims)).toEqual({ kind: 'none' });
    expect(calls.n).toBe(0);
  });
});
