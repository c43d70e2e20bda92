// On a real kube-apiserver: one tenant's bad object is reported on that tenant and changes nobody
// else's config (operator/src/render/jwks.test.ts and header_conflicts.test.ts hold the details).
//   * an AINamespace whose JWKS has no usable key is Accepted=False with ResolvedRefs=False
//     InvalidJWKS naming spec.match.jwt.jwksSecretRef, its entry is a rejected one without the JWT
//     rule, and another tenant's change made meanwhile is still written; a usable JWKS serves it;
//   * a header-only AINamespace overlapping an older one is Conflicted and rendered as a rejected
//     entry (its callers get 403 rather than the default tenant), while the older stays Accepted;
//   * a newer AINamespace with a copy of an older one's public JWKS under another claim (a token could
//     name both) loses its JWT rule, KeyConflict naming the field; the older keeps serving
//     (operator/src/render/jwt_conflicts.test.ts holds the cases).
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '../../operator/src/api/common.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { apply, applySecret, condition, cr, get, OUT_NS, pathOf, startOperator, waitFor } from './helpers.ts';
import { applyProviderAndRoute, renderedKeyNames, tenantEntry } from './tenant_outputs.ts';

const A = 'team-a';
const B = 'team-b';
let env: SluiceEnv;
let op: Operator;

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [A, B, OUT_NS]) await env.namespace(ns);
  op = await startOperator(env.kc, { namespaces: [A, B] });
  await applyProviderAndRoute(env.rest, A);
  await applyProviderAndRoute(env.rest, B);
});

afterAll(async () => {
  await op?.stop();
  await env?.stop();
});

async function conditionOf(ns: string, name: string, type: string, status: 'True' | 'False') {
  return waitFor(`AINamespace ${ns}/${name} ${type}=${status}`, async () => {
    const c = condition(await get<Resource<unknown>>(env.rest, pathOf('AINamespace', ns, name)), type);
    return c?.status === status ? c : undefined;
  });
}

describe('a JWKS with no usable key', () => {
  it('rejects that tenant alone, its status naming the field, and never renders the JWT rule', async () => {
    await applySecret(env.rest, A, 'jwks', { 'jwks.json': JSON.stringify({ keys: [] }) });
    await apply(
      env.rest,
      cr('AINamespace', 'app', A, {
        match: { jwt: { algorithms: ['RS256'], jwksSecretRef: { name: 'jwks', key: 'jwks.json' } } },
      }),
    );
    const refs = await conditionOf(A, 'app', 'ResolvedRefs', 'False');
    expect(refs.reason).toBe('InvalidJWKS');
    expect(refs.message).toContain(
      'the JWKS in Secret "jwks" key "jwks.json" (spec.match.jwt.jwksSecretRef) has an empty "keys" list',
    );
    expect((await conditionOf(A, 'app', 'Accepted', 'False')).reason).toBe('InvalidRefs');
    const entry = await waitFor('the rejected entry of team-a.app', () =>
      tenantEntry(env.rest, 'team-a.app'),
    );
    expect(entry.rejected).toContain('JWKS');
    expect(entry.match.jwt).toBeUndefined();

    // another tenant's change is written meanwhile: nothing is frozen
    await applySecret(env.rest, B, 'keys', { one: 'sk-team-b-0001' });
    await apply(
      env.rest,
      cr('AINamespace', 'keys', B, { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }),
    );
    expect((await conditionOf(B, 'keys', 'Accepted', 'True')).reason).toBe('Accepted');
    expect(await waitFor('team-b keys rendered', () => renderedKeyNames(env.rest, B, 'keys'))).toEqual([
      'keys.one',
    ]);

    // a usable key: the tenant is served, with the key
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    await applySecret(env.rest, A, 'jwks', {
      'jwks.json': JSON.stringify({ keys: [{ ...jwk, use: 'sig' }] }),
    });
    expect((await conditionOf(A, 'app', 'Accepted', 'True')).reason).toBe('Accepted');
    const served = await waitFor('team-a.app served', async () => {
      const e = await tenantEntry(env.rest, 'team-a.app');
      return e && !e.rejected ? e : undefined;
    });
    expect(served.match.jwt?.jwksFile).toBe('ainamespace.team-a.app.jwks.json');
  });
});

describe('a header-only tenant overlapping an older one', () => {
  it('is Conflicted and rendered as a rejected entry; the older one stays Accepted and is not told', async () => {
    await apply(
      env.rest,
      cr('AINamespace', 'channel', B, { match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-1' }] } }),
    );
    await conditionOf(B, 'channel', 'Accepted', 'True');
    await apply(
      env.rest,
      cr('AINamespace', 'copy', A, {
        match: { headers: [{ name: 'X-Channel-Code', values: ['ch-1', 'ch-2'] }] },
      }),
    );
    const c = await conditionOf(A, 'copy', 'Accepted', 'False');
    expect(c.reason).toBe('Conflicted');
    expect(c.message).toContain('AINamespace team-b/channel (created earlier)');
    const entry = await waitFor('the rejected entry of team-a.copy', () =>
      tenantEntry(env.rest, 'team-a.copy'),
    );
    expect(entry.rejected).toContain('team-b/channel');
    expect(entry.match.headers).toEqual([{ name: 'X-Channel-Code', in: ['ch-1', 'ch-2'] }]);
    const older = await get<Resource<unknown>>(env.rest, pathOf('AINamespace', B, 'channel'));
    expect([condition(older, 'Accepted')?.status, condition(older, 'ResolvedRefs')?.status]).toEqual([
      'True',
      'True',
    ]);
    expect((await tenantEntry(env.rest, 'team-b.channel'))?.rejected).toBeUndefined();
  });
});

describe('a newer tenant with a copy of an older tenant’s public JWKS under another claim', () => {
  it('loses its JWT rule (KeyConflict naming the field); the older one keeps its tokens and is not told', async () => {
    const jwks = JSON.stringify({
      keys: [
        {
          ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
          kid: 'b1',
        },
      ],
    });
    await applySecret(env.rest, B, 'idp-jwks', { 'jwks.json': jwks });
    // no claim: the CRD's default ("namespace") applies
    await apply(
      env.rest,
      cr('AINamespace', 'idp-users', B, {
        match: { jwt: { algorithms: ['RS256'], jwksSecretRef: { name: 'idp-jwks', key: 'jwks.json' } } },
      }),
    );
    await conditionOf(B, 'idp-users', 'Accepted', 'True');
    await applySecret(env.rest, A, 'copied-jwks', { 'jwks.json': jwks });
    await apply(
      env.rest,
      cr('AINamespace', 'copier', A, {
        match: {
          jwt: {
            algorithms: ['RS256'],
            jwksSecretRef: { name: 'copied-jwks', key: 'jwks.json' },
            claim: 'aud',
          },
        },
      }),
    );
    const refs = await conditionOf(A, 'copier', 'ResolvedRefs', 'False');
    expect(refs.reason).toBe('KeyConflict');
    expect(refs.message).toContain(
      'spec.match.jwt.jwksSecretRef already verifies the tokens of AINamespace team-b/idp-users',
    );
    expect((await conditionOf(A, 'copier', 'Accepted', 'True')).reason).toBe('AcceptedWithoutUnresolved');
    const copier = await waitFor('team-a.copier rendered', () => tenantEntry(env.rest, 'team-a.copier'));
    expect(copier.match.jwt).toBeUndefined();
    const older = await get<Resource<unknown>>(env.rest, pathOf('AINamespace', B, 'idp-users'));
    expect([condition(older, 'Accepted')?.status, condition(older, 'ResolvedRefs')?.status]).toEqual([
      'True',
      'True',
    ]);
    expect((await tenantEntry(env.rest, 'team-b.idp-users'))?.match.jwt?.jwksFile).toBe(
      'ainamespace.team-b.idp-users.jwks.json',
    );
  });
});
