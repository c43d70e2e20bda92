// A header-only tenant whose values overlap an older tenant's is Conflicted, and used to get no
// entry at all, unlike every other rejected tenant: its callers whose values the older tenant does
// not match (ch-2 below) fell through to the default tenant and were served on its routes and
// budget. Now it gets a `rejected` entry with its exact values; the dataplane tries rejected entries
// after every served one, so the older tenant keeps every request both match (the copy can take
// none of its traffic), and the newer tenant's other callers get 403 naming it.
import { describe, expect, it } from 'vitest';
import { loadableIssues, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { Identifier } from '../../../dataplane/src/policy/identify.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };
const at = (o: AINamespace, t: string): AINamespace => ({
  ...o,
  metadata: { ...o.metadata, creationTimestamp: t },
});
const OLDER = '2026-01-01T00:00:00Z';
const NEWER = '2026-02-01T00:00:00Z';

async function whoServes(id: Identifier, headers: Record<string, string>): Promise<string> {
  try {
    return (await id.identify(headers)).namespace;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

function setup(copy: AINamespace) {
  return inventory({
    providers: [provider('p'), provider('p', {}, 'platform')],
    routes: [route('r', ['p']), route('r', ['p'], {}, 'platform')],
    namespaces: [
      at(
        tenant('channel', { match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-1' }] } }, 'team-b'),
        OLDER,
      ),
      at(tenant('anonymous', { default: true }, 'platform'), OLDER),
      at(copy, NEWER),
    ],
    secrets: { 'team-a/p-key': { apiKey: 'a' }, 'platform/p-key': { apiKey: 'p' } },
  });
}

describe('a header-only tenant that overlaps an older one', () => {
  it('is Conflicted with a rejected entry: the older keeps what both match, its other callers get 403', async () => {
    const copy = tenant('aaa', {
      match: { headers: [{ name: 'x-channel-code', values: ['ch-1', 'ch-2'] }] },
    });
    const r = await renderChecked(setup(copy), OPTS);
    const o = r.outcomes.find((x) => x.key === 'AINamespace/team-a/aaa');
    expect(o?.accepted).toMatchObject({ ok: false, reason: 'Conflicted' });
    expect(o?.accepted.message).toContain('AINamespace team-b/channel (created earlier)');
    expect(o?.problems.map((p) => p.path)).toEqual(['spec.match.headers']);
    // the older tenant is not touched, and is not told: a newer tenant could otherwise mark any
    // header-identified tenant Degraded at will by copying its values
    const older = r.outcomes.find((x) => x.key === 'AINamespace/team-b/channel');
    expect([older?.accepted.reason, older?.resolvedRefs.ok]).toEqual(['Accepted', true]);

    const config = r.config as SluiceConfig;
    expect(await loadableIssues(config, r.secretData)).toEqual([]);
    const entry = config.namespaces.find((n) => n.name === 'team-a.aaa');
    expect(entry?.rejected).toContain('team-b/channel');
    expect(entry?.match).toEqual({ headers: [{ name: 'x-channel-code', in: ['ch-1', 'ch-2'] }] });
    // "team-a.aaa" sorts before "team-b.channel": the order of the list must not matter
    expect(config.namespaces.map((n) => n.name)).toEqual([
      'platform.anonymous',
      'team-a.aaa',
      'team-b.channel',
    ]);

    const id = new Identifier(config.namespaces, () => '');
    expect(await whoServes(id, { 'x-channel-code': 'ch-1' })).toBe('team-b.channel');
    // it used to be 'platform.anonymous': the default tenant served the Conflicted tenant's callers
    expect(await whoServes(id, { 'x-channel-code': 'ch-2' })).toBe('SLUICE_ERR_FORBIDDEN');
    expect(await whoServes(id, {})).toBe('platform.anonymous');
    expect(await whoServes(id, { 'x-channel-code': 'ch-3' })).toBe('platform.anonymous');
  });

  it('an exact copy takes nothing: every request it matches stays the older tenant', async () => {
    const copy = tenant('copy', { match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-1' }] } });
    const r = await renderChecked(setup(copy), OPTS);
    const config = r.config as SluiceConfig;
    expect(config.namespaces.find((n) => n.name === 'team-a.copy')?.rejected).toBeDefined();
    const id = new Identifier(config.namespaces, () => '');
    for (let i = 0; i < 3; i++)
      expect(await whoServes(id, { 'x-channel-code': 'ch-1' })).toBe('team-b.channel');
  });

  it('a regex or present rule still gets no header rule in its entry (it would refuse the default tenant)', async () => {
    const rx = tenant('rx', { match: { headers: [{ name: 'X-Channel-Code', regex: '.*' }] } });
    const r = await renderChecked(setup(rx), OPTS);
    const config = r.config as SluiceConfig;
    expect(config.namespaces.find((n) => n.name === 'team-a.rx')?.match).toEqual({});
    const id = new Identifier(config.namespaces, () => '');
    expect(await whoServes(id, { 'x-channel-code': 'ch-9' })).toBe('platform.anonymous');
  });
});

describe('a second default tenant', () => {
  it('is Conflicted on spec.default, and its key callers get 403 (not 401) without a second default', async () => {
    const second = tenant('second', {
      default: true,
      match: { apiKeys: { secretRefs: [{ name: 'keys' }] } },
    });
    const inv = setup(second);
    const r = await renderChecked(
      {
        ...inv,
        secrets: new Map([
          ...Object.entries({ 'team-a/keys': { k: 'sk-second-1' } }),
          ...(inv.secrets as Map<string, Record<string, string>>),
        ]),
      },
      OPTS,
    );
    const o = r.outcomes.find((x) => x.key === 'AINamespace/team-a/second');
    expect(o?.accepted).toMatchObject({ ok: false, reason: 'Conflicted' });
    expect(o?.problems.map((p) => p.path)).toEqual(['spec.default']);
    const config = r.config as SluiceConfig;
    expect(config.namespaces.filter((n) => n.default).map((n) => n.name)).toEqual(['platform.anonymous']);
    const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
    expect(await whoServes(id, { authorization: 'Bearer sk-second-1' })).toBe('SLUICE_ERR_FORBIDDEN');
    expect(await whoServes(id, {})).toBe('platform.anonymous');
  });
});

describe('a tenant whose credentials could not be rendered', () => {
  it('keeps no narrowing header rule alone: it became a header-only entry, and cost another tenant its status', async () => {
    // JWT narrowed by team-b's channel code; the JWKS has no usable key, so the JWT rule is not
    // rendered. Its rejected entry used to keep the header rule alone: a header-only entry the
    // dataplane found overlapping team-b's, blamed on whichever came later in the list, team-b's
    const narrowed = tenant('narrowed', {
      match: {
        headers: [{ name: 'X-Channel-Code', equals: 'ch-1' }],
        jwt: { algorithms: ['RS256'], jwksSecretRef: { name: 'jwks', key: 'k' } },
      },
    });
    const inv = setup(narrowed);
    const secrets = new Map(inv.secrets as Map<string, Record<string, string>>);
    secrets.set('team-a/jwks', { k: '{"keys": []}' });
    const r = await renderChecked({ ...inv, secrets }, OPTS);
    expect(r.outcomes.find((x) => x.key === 'AINamespace/team-b/channel')?.accepted.reason).toBe('Accepted');
    const config = r.config as SluiceConfig;
    expect(config.namespaces.find((n) => n.name === 'team-a.narrowed')?.match).toEqual({});
    const id = new Identifier(config.namespaces, () => '');
    expect(await whoServes(id, { 'x-channel-code': 'ch-1' })).toBe('team-b.channel');
  });
});

describe('a tenant whose HS256 secret another tenant also uses', () => {
  it('is not rendered as header-only: its narrowing header rule alone would serve callers without a token', async () => {
    const copied = 'template-secret-0123456789abcdef-xyz';
    const jwtAnd = (headers: Array<{ name: string; equals: string }>) => ({
      match: { headers, jwt: { algorithms: ['HS256' as const], secretRef: { name: 'hs', key: 'k' } } },
    });
    const inv = setup(tenant('narrow', jwtAnd([{ name: 'X-Team', equals: 'narrow' }])));
    const secrets = new Map(inv.secrets as Map<string, Record<string, string>>);
    secrets.set('team-a/hs', { k: copied });
    secrets.set('team-c/hs', { k: copied });
    const other = at(tenant('other', jwtAnd([{ name: 'X-Team', equals: 'other' }]), 'team-c'), NEWER);
    const r = await renderChecked({ ...inv, namespaces: [...inv.namespaces, other], secrets }, OPTS);
    expect(r.outcomes.find((x) => x.key === 'AINamespace/team-a/narrow')?.resolvedRefs.reason).toBe(
      'KeyConflict',
    );
    const config = r.config as SluiceConfig;
    const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
    // no token at all: it was served as team-a.narrow
    expect(await whoServes(id, { 'x-team': 'narrow' })).toBe('platform.anonymous');
    expect(await whoServes(id, { 'x-team': 'other' })).toBe('platform.anonymous');
    expect(config.namespaces.find((n) => n.name === 'team-a.narrow')?.match.headers).toBeUndefined();
  });
});

describe('a tenant whose API-key list ends up empty', () => {
  it('is not identified by its narrowing header rules alone (a regex one took every caller)', async () => {
    // its only key is also another tenant's (KeyConflict): the rendered list is empty
    const narrow = tenant('narrow', {
      match: { apiKeys: { secretRefs: [{ name: 'keys' }] }, headers: [{ name: 'User-Agent', regex: '.*' }] },
    });
    const inv = setup(narrow);
    const other = at(
      tenant('other', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }, 'team-c'),
      NEWER,
    );
    const secrets = new Map(inv.secrets as Map<string, Record<string, string>>);
    secrets.set('team-a/keys', { k: 'sk-shared-0001' });
    secrets.set('team-c/keys', { k: 'sk-shared-0001', own: 'sk-other-0002' });
    const r = await renderChecked({ ...inv, namespaces: [...inv.namespaces, other], secrets }, OPTS);
    expect(r.outcomes.find((x) => x.key === 'AINamespace/team-a/narrow')?.resolvedRefs.reason).toBe(
      'KeyConflict',
    );
    const config = r.config as SluiceConfig;
    const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
    expect(await whoServes(id, { 'user-agent': 'OpenAI/Python 1.0' })).toBe('platform.anonymous');
    expect(await whoServes(id, {})).toBe('platform.anonymous');
    expect(await whoServes(id, { authorization: 'Bearer sk-other-0002' })).toBe('team-c.other');
  });
});
