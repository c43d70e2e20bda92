// Every policy limit through a real dataplane with the openai SDK: 429s (requests, concurrency, tokens,
// budget) with Retry-After, OpenAI's x-ratelimit-* headers and the limit named in message and `param`;
// 400s (prompt length, input tokens, content filter, max output tokens); clamping; scopes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { bodyMessage, client, hello, post, sdkError, sha256, tenantConfig } from './fixtures.ts';

let dp: InProcessDataplane;
const key = (ns: string) => `sk-${ns}-key`;
const ns = (name: string, policies: string[], extra: Record<string, unknown> = {}) => ({
  name,
  match: { apiKeys: [{ name: `${name}-key`, sha256: sha256(key(name)) }] },
  policies,
  ...extra,
});

beforeAll(async () => {
  dp = await startDataplane(
    tenantConfig({
      namespaces: [
        ns('req', ['req-3']),
        ns('conc', ['conc-1']),
        ns('tok', ['tok-100']),
        ns('usd', ['usd-500u']),
        ns('input', ['input-50']),
        ns('chars', ['chars-100']),
        ns('filter', ['no-secrets']),
        ns('outrej', ['out-10-reject']),
        ns('outclamp', ['out-10-clamp']),
        ns('scoped', ['large-1']),
        {
          name: 'perkey',
          match: {
            apiKeys: [
              { name: 'k1', sha256: sha256('sk-perkey-1') },
              { name: 'k2', sha256: sha256('sk-perkey-2') },
            ],
          },
          policies: ['per-key-2'],
        },
      ],
      policies: [
        { name: 'req-3', requests: { limit: 3, window: 'minute' } },
        { name: 'conc-1', concurrency: { max: 1 } },
        { name: 'tok-100', tokens: [{ limit: 100, window: 'day', kind: 'total' }] },
        { name: 'usd-500u', budget: { usd: 0.0005, window: 'day' } },
        { name: 'input-50', maxInputTokens: 50 },
        { name: 'chars-100', maxPromptChars: 100 },
        {
          name: 'no-secrets',
          contentFilters: [
            { name: 'credit-card', pattern: '\\b\\d{4}[- ]?\\d{4}[- ]?\\d{4}[- ]?\\d{4}\\b' },
            { name: 'password', pattern: 'password\\s*[:=]', flags: 'i' },
          ],
        },
        { name: 'out-10-reject', maxOutputTokens: { limit: 10, mode: 'reject' } },
        { name: 'out-10-clamp', maxOutputTokens: { limit: 10, mode: 'clamp' } },
        { name: 'large-1', scope: { models: ['mock-large'] }, requests: { limit: 1, window: 'hour' } },
        { name: 'per-key-2', scope: { perApiKey: true }, requests: { limit: 2, window: 'hour' } },
      ],
    }),
  );
});
afterAll(() => dp?.stop());

const sdk = (name: string) => client(dp.baseURL, key(name));

describe('429: request rate', () => {
  it('admits the burst with OpenAI headers, then names the limit with Retry-After', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await sdk('req').chat.completions.create(hello).withResponse();
      expect(response.headers.get('x-ratelimit-limit-requests')).toBe('3');
      remaining.push(response.headers.get('x-ratelimit-remaining-requests') ?? '');
      expect(response.headers.get('x-ratelimit-reset-requests')).toMatch(/^\d+(ms|s)$|^\d+m\d+s$/);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const err = await sdkError(sdk('req').chat.completions.create(hello));
    expect(err.status).toBe(429);
    expect(err.error).toEqual({
      message: expect.stringMatching(
        /^Rate limit reached for namespace 'req': policy 'req-3' allows 3 requests per minute\. Retry in \d+s\.$/,
      ),
      type: 'rate_limit_error',
      code: 'SLUICE_ERR_RATE_LIMITED',
      param: 'requests',
    });
    const retry = Number(err.headers?.get('retry-after'));
    // 3 per minute: the next slot frees 20 s after the first request (minus the time the test took).
    expect(retry).toBeGreaterThanOrEqual(10);
    expect(retry).toBeLessThanOrEqual(20);
    expect(err.headers?.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(err.headers?.get('x-sluice-limit')).toBe('req-3/requests');
  });
});

describe('429: concurrency', () => {
  it('rejects a second request while the first is in flight, then admits again', async () => {
    const slow = { ...hello, model: 'slow-model' };
    // Two at once against max 1: exactly one is served (the slow mock holds it for 400 ms).
    const both = await Promise.all(
      [0, 1].map(() =>
        sdk('conc')
          .chat.completions.create(slow)
          .catch((e: unknown) => e),
      ),
    );
    const refused = both.filter((r) => !(r && typeof r === 'object' && 'choices' in r));
    expect(refused).toHaveLength(1);
    const err = refused[0] as Awaited<ReturnType<typeof sdkError>>;
    expect(err.status).toBe(429);
    expect(err.param).toBe('concurrency');
    expect(err.message).toContain("policy 'conc-1' allows 1 requests in flight");
    expect(err.headers?.get('retry-after')).toBe('1');
    expect((await sdk('conc').chat.completions.create(slow)).choices.length).toBe(1);
  });
});

describe('429: tokens per window', () => {
  it('reserves input + output, shrinks the last answer to what is left, then rejects', async () => {
    const req = { ...hello, max_tokens: 20 };
    const first = await sdk('tok').chat.completions.create(req).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('100');
    // 7 prompt tokens (o200k "hello" + chat framing) + 20 reserved output.
    expect(first.response.headers.get('x-ratelimit-remaining-tokens')).toBe('73');
    expect(first.response.headers.get('x-ratelimit-reset-tokens')).toMatch(/\d+s$/);
    const answers = [first.data];
    for (;;) {
      const r = await sdk('tok')
        .chat.completions.create(req)
        .catch((e: unknown) => e);
      if (!(r && typeof r === 'object' && 'choices' in r)) {
        const err = r as Awaited<ReturnType<typeof sdkError>>;
        expect(err.status).toBe(429);
        expect(err.param).toBe('tokens');
        expect(err.message).toContain("policy 'tok-100' allows 100 total tokens per day");
        expect(err.headers?.get('x-ratelimit-limit-tokens')).toBe('100');
        expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
        break;
      }
      answers.push(r as (typeof answers)[number]);
      expect(answers.length).toBeLessThan(10);
    }
    const last = answers.at(-1);
    expect(last?.choices[0]?.finish_reason).toBe('length');
    expect(last?.usage?.completion_tokens).toBeLessThan(20);
    // Reconciled with the mock's reported usage; admitted reservations never passed the limit.
    const reserved = answers.reduce((s, a) => s + 7 + (a.usage?.completion_tokens ?? 0), 0);
    expect(reserved).toBeLessThanOrEqual(100);
  });
});

describe('429: cost budget', () => {
  it('spends the USD budget from model pricing and reports what is left', async () => {
    const req = { ...hello, max_tokens: 20 };
    const first = await sdk('usd').chat.completions.create(req).withResponse();
    // reserve: 7 input x 1 µUSD + 20 output x 4 µUSD = 87 µUSD of 500.
    expect(first.response.headers.get('x-sluice-budget-remaining-usd')).toBe('0.000413');
    let ok = 1;
    for (; ok < 10; ok++) {
      const r = await sdk('usd')
        .chat.completions.create(req)
        .catch((e: unknown) => e);
      if (!(r && typeof r === 'object' && 'choices' in r)) {
        const err = r as Awaited<ReturnType<typeof sdkError>>;
        expect(err.status).toBe(429);
        expect(err.param).toBe('budget');
        expect(err.message).toContain("policy 'usd-500u' allows a budget of 0.00 USD per day");
        expect(err.headers?.get('x-sluice-limit')).toBe('usd-500u/budget');
        break;
      }
    }
    expect(ok).toBe(6);
  });
});

describe('400: request-shape limits', () => {
  it('rejects a prompt above max input tokens', async () => {
    const err = await sdkError(
      sdk('input').chat.completions.create({
        ...hello,
        messages: [{ role: 'user', content: 'word '.repeat(80) }],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.code).toBe('SLUICE_ERR_PROMPT_TOO_LONG');
    expect(err.param).toBe('messages');
    expect(bodyMessage(err)).toMatch(/^the prompt has \d+ tokens; policy 'input-50' allows 50$/);
    expect((await sdk('input').chat.completions.create(hello)).choices.length).toBe(1);
  });

  it('rejects a prompt above max prompt characters', async () => {
    const err = await sdkError(
      sdk('chars').chat.completions.create({
        ...hello,
        messages: [{ role: 'user', content: 'x'.repeat(101) }],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.code).toBe('SLUICE_ERR_PROMPT_TOO_LONG');
    expect(bodyMessage(err)).toBe("the prompt has 101 characters; policy 'chars-100' allows 100");
  });

  it('blocks content-filter matches naming the rule, anywhere in the conversation', async () => {
    const err = await sdkError(
      sdk('filter').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'be nice' },
          { role: 'user', content: 'my PASSWORD = hunter2' },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.error).toEqual({
      message: "the prompt was blocked by content filter 'password' of policy 'no-secrets'",
      type: 'invalid_request_error',
      code: 'SLUICE_ERR_CONTENT_FILTERED',
      param: 'messages',
    });
    const card = await sdkError(
      sdk('filter').chat.completions.create({
        ...hello,
        messages: [{ role: 'user', content: 'card 4111 1111 1111 1111' }],
      }),
    );
    expect(card.message).toContain("'credit-card'");
    expect((await sdk('filter').chat.completions.create(hello)).choices.length).toBe(1);
  });

  it('rejects max_tokens above the policy in reject mode', async () => {
    const err = await sdkError(sdk('outrej').chat.completions.create({ ...hello, max_tokens: 50 }));
    expect(err.status).toBe(400);
    expect(err.param).toBe('max_tokens');
    expect(bodyMessage(err)).toBe("max output tokens 50 exceeds the 10 allowed by policy 'out-10-reject'");
    const ok = await sdk('outrej').chat.completions.create({ ...hello, max_completion_tokens: 5 });
    expect(ok.usage?.completion_tokens).toBe(5);
  });

  it('clamps max_tokens (set or not) in clamp mode', async () => {
    for (const req of [hello, { ...hello, max_tokens: 500 }]) {
      const res = await sdk('outclamp').chat.completions.create(req);
      expect(res.usage?.completion_tokens).toBe(10);
      expect(res.choices[0]?.finish_reason).toBe('length');
    }
  });
});

describe('scopes', () => {
  it('limits only the models in the policy scope', async () => {
    const large = { ...hello, model: 'mock-large' };
    expect((await sdk('scoped').chat.completions.create(large)).choices.length).toBe(1);
    expect((await sdkError(sdk('scoped').chat.completions.create(large))).status).toBe(429);
    for (let i = 0; i < 3; i++)
      expect((await sdk('scoped').chat.completions.create(hello)).choices.length).toBe(1);
  });

  it('counts per API key when the policy says so', async () => {
    const k1 = client(dp.baseURL, 'sk-perkey-1');
    const k2 = client(dp.baseURL, 'sk-perkey-2');
    await k1.chat.completions.create(hello);
    await k1.chat.completions.create(hello);
    expect((await sdkError(k1.chat.completions.create(hello))).status).toBe(429);
    expect((await k2.chat.completions.create(hello)).choices.length).toBe(1);
  });
});

describe('observability', () => {
  it('counts rejections by namespace and limit kind in /metrics', async () => {
    const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    for (const [n, kind] of [
      ['req', 'requests'],
      ['conc', 'concurrency'],
      ['tok', 'tokens'],
      ['usd', 'budget'],
      ['input', 'max_input_tokens'],
      ['chars', 'max_prompt_chars'],
      ['filter', 'content_filter'],
      ['outrej', 'max_output_tokens'],
    ]) {
      expect(text).toMatch(
        new RegExp(`sluice_limit_rejections_total\\{namespace="${n}",limit="${kind}"\\} [1-9]`),
      );
    }
  });

  it('reports the store in /readyz', async () => {
    const body = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { policy: { store: unknown } };
    expect(body.policy.store).toEqual({ type: 'memory', healthy: true, mode: 'local' });
  });

  it('answers raw requests with the same 429 JSON the SDK sees', async () => {
    const r = await post(dp.url, hello, { authorization: `Bearer ${key('req')}` });
    expect(r.status).toBe(429);
    expect((r.json.error as { code: string }).code).toBe('SLUICE_ERR_RATE_LIMITED');
  });
});
