// Which tenant a request is, as docs/policies.md states it: API key, then JWT, then headers alone,
// then the default namespace for callers without credentials; a credential that matches nothing is
// 401 unless a header-only namespace's headers identify the caller (its placeholder key is not
// checked); a rejected namespace's callers get 403 instead of falling through to the default one;
// and a config that lists no namespaces serves nobody unless it says `access: open`.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const KEY_A = 'sk-tenant-a-0001';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** One mock provider and route per tenant, each answering with the tenant's name. */
function tenantParts(names: string[]) {
  return {
    providers: names.map((n) => ({
      name: `p-${n}`,
      type: 'mock',
      mock: { text: `tenant-${n}`, outputTokens: 1 },
    })),
    routes: names.map((n) => ({ name: `r-${n}`, backends: [{ provider: `p-${n}` }] })),
  };
}

async function ask(url: string, headers: Record<string, string>) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as {
    choices?: Array<{ message: { content: string } }>;
    error?: { code: string };
  };
  return { status: res.status, who: body.choices?.[0]?.message.content, code: body.error?.code };
}

describe('tenant precedence', () => {
  let dp: InProcessDataplane;
  beforeAll(async () => {
    dp = await startDataplane({
      ...tenantParts(['a', 'b', 'd', 'r']),
      namespaces: [
        { name: 'a', match: { apiKeys: [{ name: 'a-key', sha256: sha(KEY_A) }] }, routes: ['r-a'] },
        { name: 'b', match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-1' }] }, routes: ['r-b'] },
        { name: 'd', default: true, routes: ['r-d'] },
        {
          name: 'r',
          match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-2' }] },
          rejected: 'AIPolicy "gone" not found',
        },
      ],
    });
  });
  afterAll(() => dp?.stop());

  it('an API key wins over another tenant’s headers', async () => {
    expect(await ask(dp.url, { authorization: `Bearer ${KEY_A}`, 'x-channel-code': 'ch-1' })).toMatchObject({
      status: 200,
      who: 'tenant-a',
    });
  });

  it('headers alone identify a header-only tenant, whatever placeholder key comes with them', async () => {
    for (const headers of [
      { 'x-channel-code': 'ch-1' },
      { 'x-channel-code': 'ch-1', authorization: 'Bearer placeholder' },
    ] as Record<string, string>[])
      expect(await ask(dp.url, headers)).toMatchObject({ status: 200, who: 'tenant-b' });
  });

  it('a credential that matches nothing is 401, never the default tenant', async () => {
    expect(await ask(dp.url, { authorization: 'Bearer sk-made-up' })).toMatchObject({
      status: 401,
      code: 'SLUICE_ERR_UNAUTHENTICATED',
    });
    expect(await ask(dp.url, { authorization: 'Bearer sk-made-up', 'x-channel-code': 'ch-9' })).toMatchObject(
      {
        status: 401,
      },
    );
  });

  it('no credentials at all is the default tenant', async () => {
    expect(await ask(dp.url, {})).toMatchObject({ status: 200, who: 'tenant-d' });
  });

  it('a rejected tenant’s callers get 403, not the default tenant', async () => {
    expect(await ask(dp.url, { 'x-channel-code': 'ch-2' })).toMatchObject({
      status: 403,
      code: 'SLUICE_ERR_FORBIDDEN',
    });
  });
});

describe('a config without namespaces', () => {
  it('serves nobody with access: tenants, everybody with access: open', async () => {
    const closed = await startDataplane({ access: 'tenants', ...tenantParts(['x']) });
    const open = await startDataplane({ access: 'open', ...tenantParts(['x']) });
    try {
      for (const headers of [{}, { authorization: 'Bearer sk-anything' }] as Record<string, string>[]) {
        expect(await ask(closed.url, headers)).toMatchObject({
          status: 401,
          code: 'SLUICE_ERR_UNAUTHENTICATED',
        });
        expect(await ask(open.url, headers)).toMatchObject({ status: 200, who: 'tenant-x' });
      }
    } finally {
      await closed.stop();
      await open.stop();
    }
  });
});
