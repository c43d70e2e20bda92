// Which provider response headers reach the client: its rate-limit state under x-upstream-*, its
// request id as x-upstream-request-id, openai-processing-ms; never cookies or account details. The
// rate-limit state describes the provider account, so by default it is passed only while one tenant can
// reach the provider: on an account tenants share it would show each the others' use.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, reloadTo, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

let upstream: Server;
let dp: InProcessDataplane;
let url: string;

const PROVIDER_HEADERS = {
  'x-request-id': 'req_provider_123',
  'openai-processing-ms': '321',
  'x-ratelimit-remaining-requests': '499',
  'x-ratelimit-reset-tokens': '6ms',
  'openai-organization': 'org-secret-name',
  'openai-project': 'proj_hidden',
  'set-cookie': '__cf_bm=abc; path=/',
};

beforeAll(async () => {
  upstream = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString()) as { stream?: boolean };
    const base = { id: 'c', created: 1, model: 'm' };
    if (body.stream) {
      res.writeHead(200, { ...PROVIDER_HEADERS, 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.end(`${chunk({ role: 'assistant', content: 'hi' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`);
      return;
    }
    res.writeHead(200, { ...PROVIDER_HEADERS, 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  dp = await startDataplane(config({}, []));
});

/** One provider `oa` behind route `oa`; `tenants` (name -> routes it may use, undefined = all) */
function config(provider: object, tenants: Array<[string, string[] | undefined]>): object {
  const oa = { type: 'openai', baseUrl: url, credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } } };
  return {
    providers: [
      { name: 'oa', ...oa, ...provider },
      { name: 'ob', ...oa },
    ],
    routes: [
      { name: 'oa', match: { models: ['m'] }, backends: [{ provider: 'oa' }] },
      { name: 'ob', match: { models: ['n'] }, backends: [{ provider: 'ob' }] },
    ],
    namespaces: tenants.map(([name, routes]) => ({
      name,
      match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-${name}`) }] },
      ...(routes ? { routes } : {}),
    })),
  };
}

afterAll(async () => {
  await dp?.stop();
  await new Promise((r) => upstream?.close(r));
});

function check(h: Headers, rateLimits = true): void {
  expect(h.get('x-upstream-request-id')).toBe('req_provider_123');
  expect(h.get('openai-processing-ms')).toBe('321');
  expect(h.get('x-upstream-x-ratelimit-remaining-requests')).toBe(rateLimits ? '499' : null);
  expect(h.get('x-upstream-x-ratelimit-reset-tokens')).toBe(rateLimits ? '6ms' : null);
  // Sluice's own request id stays Sluice's
  expect(h.get('x-request-id')).not.toBe('req_provider_123');
  for (const hidden of [
    'openai-organization',
    'openai-project',
    'set-cookie',
    'x-ratelimit-remaining-requests',
  ])
    expect(h.get(hidden)).toBeNull();
}

const client = (apiKey = 'unused') => new OpenAI({ baseURL: dp.baseURL, apiKey, maxRetries: 0 });

/** a whole answer and a stream for `tenant` (its key), each checked */
async function both(tenant: string, rateLimits: boolean): Promise<void> {
  const c = client(`sk-${tenant}`);
  const whole = await c.chat.completions
    .create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
    .withResponse();
  check(whole.response.headers, rateLimits);
  const { data, response } = await c.chat.completions
    .create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] })
    .withResponse();
  for await (const _ of data) {
    // drain
  }
  check(response.headers, rateLimits);
}

describe('provider response headers', () => {
  it('whole answers and streams of an open gateway (one tenant)', () => both('anyone', true));
});

// Each case reloads the one dataplane, so the setting is also shown to follow a reload of a provider
// whose pool (runtime) is kept.
describe('rate-limit headers of a provider account tenants share', () => {
  it('one tenant: passed', async () => {
    await reloadTo(dp, config({}, [['a', undefined]]));
    await both('a', true);
  });

  it('two tenants reaching the provider: not passed by default (request id still is)', async () => {
    await reloadTo(
      dp,
      config({}, [
        ['a', undefined],
        ['b', undefined],
      ]),
    );
    await both('a', false);
    await both('b', false);
  });

  it('two tenants, each reaching its own provider: passed', async () => {
    await reloadTo(
      dp,
      config({}, [
        ['a', ['oa']],
        ['b', ['ob']],
      ]),
    );
    await both('a', true);
  });

  it('a rejected entry is no tenant of the provider', async () => {
    const cfg = config({}, [['a', undefined]]) as { namespaces: object[] };
    cfg.namespaces.push({
      name: 'gone',
      match: { apiKeys: [{ name: 'k', sha256: sha256('sk-gone') }] },
      rejected: 'x',
    });
    await reloadTo(dp, cfg);
    await both('a', true);
  });

  it('rateLimitHeaders: always passes them to shared tenants', async () => {
    await reloadTo(
      dp,
      config({ rateLimitHeaders: 'always' }, [
        ['a', undefined],
        ['b', undefined],
      ]),
    );
    await both('b', true);
  });

  it('rateLimitHeaders: never keeps them from a single tenant and from an open gateway', async () => {
    await reloadTo(dp, config({ rateLimitHeaders: 'never' }, [['a', undefined]]));
    await both('a', false);
    await reloadTo(dp, config({ rateLimitHeaders: 'never' }, []));
    await both('anyone', false);
  });
});
