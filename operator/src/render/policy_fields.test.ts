// AIPolicy fields that pass through to the dataplane unchanged reach the rendered config, and the
// config they make is valid for the dataplane: traceContent (record prompts/answers on trace spans).
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../dataplane/src/config/load.ts';
import { render } from './render.ts';
import { inventory, policy, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };

describe('AIPolicy traceContent', () => {
  it('renders into the tenant’s policy and validates', () => {
    const inv = inventory({
      providers: [provider('openai')],
      routes: [route('chat', ['openai'])],
      policies: [policy('audit', { traceContent: true })],
      namespaces: [
        tenant('t', { match: { headers: [{ name: 'x-team', equals: 't' }] }, policies: ['audit'] }),
      ],
      secrets: { 'team-a/openai-key': { apiKey: 'k1' } },
    });
    const r = render(inv, OPTS);
    const p = r.config?.policies.find((x) => x.name.endsWith('audit'));
    expect(p).toMatchObject({ traceContent: true });
    expect(() => validateConfig(JSON.parse(JSON.stringify(r.config)), 'rendered')).not.toThrow();
  });
});

describe('AIProvider forwardBetas', () => {
  it('passes through, an empty list included (no betas forwarded)', () => {
    for (const forwardBetas of [['prompt-caching-2024-07-31'], []]) {
      const inv = inventory({
        providers: [provider('claude', { type: 'anthropic', forwardBetas })],
        routes: [route('chat', ['claude'])],
        namespaces: [tenant('t', { match: { headers: [{ name: 'x-team', equals: 't' }] } })],
        secrets: { 'team-a/claude-key': { apiKey: 'k1' } },
      });
      const r = render(inv, OPTS);
      expect(r.config?.providers[0]).toMatchObject({ forwardBetas });
      expect(() => validateConfig(JSON.parse(JSON.stringify(r.config)), 'rendered')).not.toThrow();
    }
  });
});

describe('AIProvider rateLimitHeaders', () => {
  it('passes through and validates; absent stays absent (the dataplane default, single-tenant)', () => {
    for (const rateLimitHeaders of ['always', 'never', undefined] as const) {
      const inv = inventory({
        providers: [provider('openai', rateLimitHeaders ? { rateLimitHeaders } : {})],
        routes: [route('chat', ['openai'])],
        namespaces: [tenant('t', { match: { headers: [{ name: 'x-team', equals: 't' }] } })],
        secrets: { 'team-a/openai-key': { apiKey: 'k1' } },
      });
      const r = render(inv, OPTS);
      expect(r.config?.providers[0]?.rateLimitHeaders).toBe(rateLimitHeaders);
      expect(() => validateConfig(JSON.parse(JSON.stringify(r.config)), 'rendered')).not.toThrow();
    }
  });
});
