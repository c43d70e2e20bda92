// GET /v1/responses/{id}/input_items with the official openai SDK and raw requests. OpenAI answers a
// bad `order` or `limit` with 400 invalid_request_error naming the parameter; Sluice used to take any
// `order` as "desc" and clamp `limit` into 1..100, so a client's typo came back as a page it did not
// ask for. Real in-process dataplane, the validating Anthropic fake.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let anthropic: FakeAnthropic;
let dp: InProcessDataplane;
let client: OpenAI;
let responseId: string;
const TEXTS = ['one', 'two', 'three'];

beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  anthropic.setScript(() => ({ content: [{ type: 'text' as const, text: 'ok' }] }));
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: anthropic.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [{ name: 'c', match: { models: ['claude-*'] }, backends: [{ provider: 'claude' }] }],
    namespaces: [{ name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team-a') }] } }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-team-a', maxRetries: 0 });
  const created = await client.responses.create({
    model: 'claude-x',
    input: TEXTS.map((text) => ({ role: 'user' as const, content: text })),
  });
  responseId = created.id;
});

afterAll(async () => {
  await dp?.stop();
  await anthropic?.close();
});

const texts = (items: readonly unknown[]) =>
  items.map((it) => ((it as { content: Array<{ text: string }> }).content[0] as { text: string }).text);

async function raw(query: string) {
  const res = await fetch(`${dp.baseURL}/responses/${responseId}/input_items?${query}`, {
    headers: { authorization: 'Bearer sk-team-a' },
  });
  return { status: res.status, body: (await res.json()) as { error?: Record<string, unknown> } };
}

describe('input_items query (openai SDK and raw HTTP)', () => {
  it('pages by order, limit and after as OpenAI does (desc and 20 by default)', async () => {
    const all = await client.responses.inputItems.list(responseId);
    expect(texts(all.data)).toEqual(['three', 'two', 'one']);
    const asc = await client.responses.inputItems.list(responseId, { order: 'asc', limit: 2 });
    expect(texts(asc.data)).toEqual(['one', 'two']);
    expect(asc.has_more).toBe(true);
    const next = await client.responses.inputItems.list(responseId, {
      order: 'asc',
      limit: 2,
      after: asc.data[1]?.id,
    });
    expect(texts(next.data)).toEqual(['three']);
    expect(next.has_more).toBe(false);
    // the SDK's auto-pagination walks the pages by `after`
    const walked: string[] = [];
    for await (const item of client.responses.inputItems.list(responseId, { order: 'asc', limit: 1 }))
      walked.push(texts([item])[0] as string);
    expect(walked).toEqual(TEXTS);
    // include names extra fields of output items: accepted, the input items are listed as sent
    const included = await client.responses.inputItems.list(responseId, {
      include: ['message.input_image.image_url'],
      limit: 100,
    });
    expect(texts(included.data)).toEqual(['three', 'two', 'one']);
  });

  it('refuses a bad order or limit with the error OpenAI gives, naming the parameter', async () => {
    const sdk = await client.responses.inputItems
      .list(responseId, { order: 'newest' as 'asc' })
      .catch((e: unknown) => e);
    expect(sdk).toBeInstanceOf(OpenAI.BadRequestError);
    expect(sdk).toMatchObject({ status: 400, param: 'order', code: 'invalid_value' });

    const cases: Array<[string, Record<string, unknown>]> = [
      [
        'order=ASC',
        {
          message: "Invalid value: 'ASC'. Supported values are: 'asc' and 'desc'.",
          param: 'order',
          code: 'invalid_value',
        },
      ],
      [
        'limit=0',
        {
          message: "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got 0 instead.",
          param: 'limit',
          code: 'integer_below_min_value',
        },
      ],
      [
        'limit=101',
        {
          message:
            "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
          param: 'limit',
          code: 'integer_above_max_value',
        },
      ],
      [
        'limit=ten',
        {
          message: "Invalid type for 'limit': expected an integer, but got a string instead.",
          param: 'limit',
          code: 'invalid_type',
        },
      ],
      ['limit=1&limit=2', { param: 'limit', code: 'duplicate_parameter' }],
    ];
    for (const [query, error] of cases) {
      const got = await raw(query);
      expect(got.status, query).toBe(400);
      expect(got.body.error, query).toMatchObject({ type: 'invalid_request_error', ...error });
    }
    // the query is checked before the lookup: an unknown id with a bad query is still the 400
    const res = await fetch(`${dp.baseURL}/responses/resp_unknown/input_items?order=up`, {
      headers: { authorization: 'Bearer sk-team-a' },
    });
    expect(res.status).toBe(400);
    // a long value is cut in the message, never echoed whole
    const long = await raw(`order=${'x'.repeat(5000)}`);
    expect(long.status).toBe(400);
    expect(String(long.body.error?.message).length).toBeLessThan(200);
  });
});
