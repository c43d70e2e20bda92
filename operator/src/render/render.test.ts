// The renderer: CRs -> one dataplane config that the dataplane's own loader accepts, with truthful
// per-object verdicts and secrets kept out of the config text.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configHash } from '../../../dataplane/src/config/contract.ts';
import { parseConfigText, validateConfig } from '../../../dataplane/src/config/load.ts';
import { inventoryOf, readManifests } from './manifests.ts';
import { render } from './render.ts';
import { sha256Hex } from './secrets.ts';
import { inventory, policy, provider, route, tenant } from './test_fixtures.ts';

const SAMPLES = join(import.meta.dirname, '../../../config/samples');
const OPTS = { secretsDir: '/etc/sluice/secrets' };
const outcome = (r: ReturnType<typeof render>, key: string) => r.outcomes.find((o) => o.key === key);

describe('render', () => {
  it('renders the samples into a config the dataplane loads, with the same hash it will report', async () => {
    const { manifests, problems } = await readManifests([SAMPLES]);
    expect(problems).toEqual([]);
    const r = render(inventoryOf(manifests, 'demo'), OPTS);
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    expect(r.outcomes).toHaveLength(7);
    // JSON (read with JSON.parse by the dataplane, and still YAML for anything else), indented by 2
    expect(r.configText).toBe(`${JSON.stringify(JSON.parse(r.configText), null, 2)}\n`);
    expect(parseYaml(r.configText)).toEqual(JSON.parse(r.configText));
    const reloaded = validateConfig(parseConfigText(r.configText, 'config.yaml'));
    expect(configHash(reloaded)).toBe(r.hash);
    expect(reloaded.providers.map((p) => p.name)).toEqual(['demo.azure-openai', 'demo.openai']);
    expect(reloaded.routes[0]?.fallback[0]).toMatchObject({
      provider: 'demo.azure-openai',
      model: 'gpt-4o-mini',
    });
    expect(reloaded.providers[1]?.credentials).toEqual({ apiKey: { file: 'provider.demo.openai.apiKey' } });
    expect(r.secretData['provider.demo.openai.apiKey']).toBe('sk-replace-with-your-openai-key');
    // secrets and API keys never appear in the config text; the dataplane only gets key hashes
    expect(r.configText).not.toContain('sk-replace');
    expect(r.configText).not.toContain('alice-replace-me');
    const team = reloaded.namespaces.find((n) => n.name === 'demo.team-a');
    expect(team?.match.apiKeysFile).toBe('ainamespace.demo.team-a.apikeys.json');
    const keys = JSON.parse(r.secretData['ainamespace.demo.team-a.apikeys.json'] ?? '[]');
    expect(keys).toContainEqual({
      name: 'team-a-api-keys.alice',
      sha256: sha256Hex('sk-sluice-team-a-alice-replace-me'),
    });
    expect(JSON.stringify(r.secretData)).not.toContain('"sk-sluice-team-a-alice-replace-me"');
    const channel = reloaded.namespaces.find((n) => n.name === 'demo.channel-001');
    expect(channel?.match.headers).toEqual([{ name: 'X-Channel-Code', equals: 'ch-001' }]);
    expect(channel?.routes).toEqual(['demo.chat']);
    expect(reloaded.server.secretsDir).toBe('/etc/sluice/secrets');
  });

  it('leaves out a route whose provider is missing and names it, without affecting the others', () => {
    const inv = inventory({
      providers: [provider('openai')],
      routes: [route('good', ['openai']), route('broken', ['openai', 'nope'], { match: { models: ['x'] } })],
      secrets: { 'team-a/openai-key': { apiKey: 'k1' } },
    });
    const r = render(inv, OPTS);
    const broken = outcome(r, 'AIRoute/team-a/broken');
    expect(broken?.resolvedRefs).toEqual({
      ok: false,
      reason: 'RefNotFound',
      message: 'AIProvider "nope" not found',
    });
    expect(broken?.accepted.ok).toBe(false);
    expect(broken?.accepted.reason).toBe('InvalidRefs');
    expect(broken?.problems).toEqual([
      { path: 'spec.backends[1].providerRef.name', message: 'AIProvider "nope" not found' },
    ]);
    expect(outcome(r, 'AIRoute/team-a/good')?.accepted.ok).toBe(true);
    expect(r.config?.routes.map((x) => x.name)).toEqual(['team-a.good']);
  });

  it('a route whose only problem is a missing fallback provider serves without that fallback and says so', () => {
    const inv = inventory({
      providers: [provider('openai'), provider('backup', { type: 'mock', credentials: undefined })],
      routes: [
        route('chat', ['openai'], {
          fallback: [{ providerRef: { name: 'typo' } }, { providerRef: { name: 'backup' }, model: 'm' }],
        }),
      ],
      // a tenant, so the config is not refused for having none (access is another test's subject)
      namespaces: [tenant('t', { match: { headers: [{ name: 'x-team', equals: 't' }] } })],
      secrets: { 'team-a/openai-key': { apiKey: 'k1' } },
    });
    const r = render(inv, OPTS);
    const chat = outcome(r, 'AIRoute/team-a/chat');
    expect(chat?.accepted).toEqual({
      ok: true,
      reason: 'AcceptedWithoutUnresolved',
      message:
        'rendered into the dataplane config as team-a.chat without spec.fallback[0]: AIProvider "typo" not found',
    });
    expect(chat?.resolvedRefs).toEqual({
      ok: false,
      reason: 'RefNotFound',
      message: 'AIProvider "typo" not found',
    });
    const served = validateConfig(parseConfigText(r.configText, 'config.yaml'));
    expect(served.routes[0]?.fallback.map((f) => [f.provider, f.model])).toEqual([['team-a.backup', 'm']]);
    // a missing balanced backend still keeps the route out: it cannot serve as written
    const broken = render(
      { ...inv, providers: [provider('backup', { type: 'mock', credentials: undefined })] },
      OPTS,
    );
    expect(outcome(broken, 'AIRoute/team-a/chat')?.accepted.reason).toBe('InvalidRefs');
  });

  it('cascades: a provider without its Secret is not accepted, nor are the routes using it', () => {
    const inv = inventory({
      providers: [provider('openai'), provider('other')],
      routes: [route('r1', ['openai']), route('r2', ['other'])],
      secrets: { 'team-a/other-key': { apiKey: 'k2' } },
    });
    const r = render(inv, OPTS);
    expect(outcome(r, 'AIProvider/team-a/openai')?.resolvedRefs).toMatchObject({
      ok: false,
      reason: 'SecretNotFound',
      message: 'Secret "openai-key" not found',
    });
    expect(outcome(r, 'AIRoute/team-a/r1')?.resolvedRefs).toMatchObject({
      ok: false,
      reason: 'RefNotAccepted',
      message: 'AIProvider "openai" is not accepted (InvalidRefs)',
    });
    expect(r.config?.routes.map((x) => x.name)).toEqual(['team-a.r2']);
    expect(Object.keys(r.secretData)).toEqual(['provider.team-a.other.apiKey']);
  });

  it('a Secret without the key is named with the key', () => {
    const r = render(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        secrets: { 'team-a/p-key': { other: 'x' } },
      }),
      OPTS,
    );
    expect(outcome(r, 'AIProvider/team-a/p')?.resolvedRefs.message).toBe(
      'Secret "p-key" has no key "apiKey"',
    );
    expect(r.emptyReason).toBe('no AIProvider is accepted');
    expect(r.configText).toBe('');
  });

  it('attributes what the dataplane rejects to its owner and drops only that object', () => {
    const inv = inventory({
      providers: [
        provider('nocreds', { credentials: undefined }),
        provider('ok'),
        provider('weird', { type: 'no-such-type' }),
      ],
      routes: [route('r', ['ok'])],
      secrets: { 'team-a/ok-key': { apiKey: 'k' } },
    });
    const r = render(inv, OPTS);
    expect(outcome(r, 'AIProvider/team-a/nocreds')?.accepted).toMatchObject({
      ok: false,
      reason: 'Invalid',
      message: 'the dataplane rejects credentials.apiKey: required for provider type "openai"',
    });
    expect(outcome(r, 'AIProvider/team-a/weird')?.accepted.message).toMatch(
      /^unsupported provider type "no-such-type" \(supported: .*openai/,
    );
    expect(r.config?.providers.map((p) => p.name)).toEqual(['team-a.ok']);
  });

  it('orders routes by priority, then namespace and name', () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('b', ['p']), route('a', ['p']), route('z', ['p'], { priority: 10 })],
      secrets: { 'team-a/p-key': { apiKey: 'k' } },
    });
    expect(render(inv, OPTS).config?.routes.map((x) => x.name)).toEqual(['team-a.z', 'team-a.a', 'team-a.b']);
  });

  it('is deterministic whatever the watch order', () => {
    const parts = {
      providers: [provider('p1'), provider('p2')],
      routes: [route('r1', ['p1']), route('r2', ['p2', 'p1'])],
      policies: [policy('pol')],
      namespaces: [
        tenant('t1', { match: { headers: [{ name: 'X-Channel-Code', equals: 'a' }] }, policies: ['pol'] }),
      ],
      secrets: { 'team-a/p1-key': { apiKey: 'a' }, 'team-a/p2-key': { apiKey: 'b' } },
    };
    const a = render(inventory(parts), OPTS);
    const b = render(
      inventory({ ...parts, providers: [...parts.providers].reverse(), routes: [...parts.routes].reverse() }),
      OPTS,
    );
    expect(b.configText).toBe(a.configText);
    expect(b.hash).toBe(a.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps the older tenant on a second default; an API key in two tenants is served by neither', () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('r', ['p'])],
      namespaces: [
        tenant('first', { default: true }),
        tenant('second', { default: true }),
        tenant('keys-a', { match: { apiKeys: { secretRefs: [{ name: 'ka' }] } } }),
        tenant('keys-b', { match: { apiKeys: { secretRefs: [{ name: 'kb' }] } } }),
      ],
      secrets: {
        'team-a/p-key': { apiKey: 'k' },
        'team-a/ka': { one: 'shared-key' },
        'team-a/kb': { two: 'shared-key' },
      },
    });
    const r = render(inv, OPTS);
    expect(outcome(r, 'AINamespace/team-a/first')?.accepted.ok).toBe(true);
    expect(outcome(r, 'AINamespace/team-a/second')?.accepted).toMatchObject({
      ok: false,
      reason: 'Conflicted',
      message: 'AINamespace team-a/first is already the default namespace',
    });
    // both stay accepted without the shared key, and both say so (ResolvedRefs=False, KeyConflict)
    expect(outcome(r, 'AINamespace/team-a/keys-a')?.resolvedRefs).toEqual({
      ok: false,
      reason: 'KeyConflict',
      message:
        'API key "ka.one" is also a key of another AINamespace, so neither serves it (replace it in one of them)',
    });
    expect(outcome(r, 'AINamespace/team-a/keys-b')?.accepted).toEqual({
      ok: true,
      reason: 'AcceptedWithoutUnresolved',
      message:
        'rendered into the dataplane config as team-a.keys-b without spec.match.apiKeys: API key "kb.two" is also a key of another AINamespace, so neither serves it (replace it in one of them)',
    });
    expect(r.secretData['ainamespace.team-a.keys-a.apikeys.json']).toBe('[]');
    expect(r.secretData['ainamespace.team-a.keys-b.apikeys.json']).toBe('[]');
  });

  it('a tenant with a missing policy is not accepted (fail closed), and one without routes gets its namespace routes', () => {
    const inv = inventory({
      providers: [provider('p'), provider('q', {}, 'team-b')],
      routes: [route('r', ['p']), route('other', ['q'], {}, 'team-b')],
      namespaces: [
        tenant('t', { default: true, policies: ['missing'] }),
        tenant('u', { default: false, match: { headers: [{ name: 'X', equals: 'x' }] } }),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'k' }, 'team-b/q-key': { apiKey: 'k' } },
    });
    const r = render(inv, OPTS);
    expect(outcome(r, 'AINamespace/team-a/t')?.resolvedRefs.message).toBe('AIPolicy "missing" not found');
    // the rejected default tenant is rendered as a rejected entry: its callers get 403, not service
    expect(r.config?.namespaces.map((n) => [n.name, n.routes, n.rejected])).toEqual([
      ['team-a.t', undefined, 'not rendered: AIPolicy "missing" not found'],
      ['team-a.u', ['team-a.r'], undefined],
    ]);
    expect(r.config?.namespaces[0]?.default).toBe(true);
  });

  it('renders every AIPolicy field into a policy the dataplane accepts', () => {
    const full = policy('full', {
      scope: { routes: ['r'], models: ['gpt-*'], perApiKey: true },
      requests: { limit: 5, window: 'minute', burst: 10 },
      concurrency: { max: 3 },
      maxInputTokens: 1000,
      maxOutputTokens: { limit: 200, mode: 'reject' },
      tokens: [{ limit: 1000, window: 'hour', kind: 'output' }],
      budget: { usd: 1.5, window: 'day' },
      maxPromptChars: 5000,
      reserveOutputTokens: 100,
      contentFilters: [{ name: 'no-secrets', pattern: 'password', flags: 'i' }],
      models: { allow: ['gpt-*'], deny: ['gpt-4o'] },
    });
    const bad = policy('bad', { contentFilters: [{ name: 'x', pattern: '(' }] });
    const r = render(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        policies: [full, bad],
        secrets: { 'team-a/p-key': { apiKey: 'k' } },
      }),
      OPTS,
    );
    expect(outcome(r, 'AIPolicy/team-a/full')?.accepted.ok).toBe(true);
    expect(r.config?.policies[0]).toMatchObject({
      name: 'team-a.full',
      scope: { routes: ['team-a.r'], perApiKey: true },
      budget: { usd: 1.5 },
    });
    expect(outcome(r, 'AIPolicy/team-a/bad')?.problems).toEqual([
      {
        path: 'spec.contentFilters[0].pattern',
        message: 'invalid regular expression: missing closing ): `(`: /(/',
      },
    ]);
  });

  it('converts durations and renames header matches', () => {
    const r = render(
      inventory({
        providers: [
          provider('p', {
            timeouts: { connect: '1s', total: '1m30s' },
            circuitBreaker: { baseEjection: '500ms' },
          }),
        ],
        routes: [
          route('r', ['p'], {
            retry: { maxDelay: '3s' },
            cache: { enabled: true, ttl: '2m' },
            match: { headers: [{ name: 'x-team', values: ['a', 'b'] }] },
          }),
        ],
        secrets: { 'team-a/p-key': { apiKey: 'k' } },
      }),
      OPTS,
    );
    expect(r.config?.providers[0]?.timeouts).toEqual({ connectMs: 1000, totalMs: 90_000 });
    expect(r.config?.providers[0]?.circuitBreaker?.baseEjectionMs).toBe(500);
    expect(r.config?.routes[0]?.retry.maxDelayMs).toBe(3000);
    expect(r.config?.routes[0]?.cache).toEqual({ enabled: true, ttlSeconds: 120 });
    expect(r.config?.routes[0]?.match.headers).toEqual([{ name: 'x-team', in: ['a', 'b'] }]);
  });
});
