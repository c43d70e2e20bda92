// The Vercel AI SDK's default `openai(model)` (the Responses API, store: true) sends the assistant
// text of earlier steps back as `item_reference` items naming the ids Sluice gave them, not as content.
// Sluice refused every item_reference, so a multi-step tool loop whose model wrote text beside its tool
// calls failed on its second step (on every backend). Sluice keeps the items of the responses it
// stores and puts each referenced item back in place; an id it does not know (or another tenant's) is
// OpenAI's 404 naming `input`. Real in-process dataplane, the validating Anthropic fake.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnthropicRequestRecord, type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let anthropic: FakeAnthropic;
let dp: InProcessDataplane;

beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
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
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team-a') }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team-b') }] } },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await anthropic?.close();
});

/** Claude: text and a tool call first; once the tool result is in, the answer. */
function claude(req: AnthropicRequestRecord) {
  const last = (req.body?.messages as Array<{ content: unknown }> | undefined)?.at(-1)?.content;
  const answered = Array.isArray(last) && last.some((b: { type?: string }) => b.type === 'tool_result');
  if (answered) return { content: [{ type: 'text' as const, text: 'It is sunny in Paris.' }] };
  return {
    content: [
      { type: 'text' as const, text: 'Let me check the weather.' },
      { type: 'tool_use' as const, id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
    ],
    stopReason: 'tool_use',
  };
}

describe('item_reference items (Vercel AI SDK, store: true)', () => {
  it('a two-step tool loop with text beside the tool call completes', async () => {
    anthropic.setScript(claude);
    const provider = createOpenAI({ baseURL: dp.baseURL, apiKey: 'sk-team-a' });
    const result = await generateText({
      model: provider('claude-sonnet-4-5'),
      prompt: 'Weather in Paris?',
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: {
        get_weather: tool({
          inputSchema: jsonSchema<{ city: string }>({
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
          }),
          execute: async ({ city }) => `sunny in ${city}`,
        }),
      },
    });
    expect(result.steps).toHaveLength(2);
    expect(result.text).toBe('It is sunny in Paris.');
    // the second request carried the first step's text and tool call as content, in order
    const second = anthropic.requests.at(-1)?.body?.messages as Array<{ role: string; content: unknown }>;
    expect(second.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(second[1]?.content).toEqual([
      { type: 'text', text: 'Let me check the weather.' },
      { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it("an unknown id, or another tenant's, is OpenAI's 404 naming input", async () => {
    anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Hello there.' }] }));
    const a = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-team-a', maxRetries: 0 });
    const first = await a.responses.create({ model: 'claude-sonnet-4-5', input: 'Hi' });
    const itemId = first.output[0]?.id as string;
    expect(itemId).toMatch(/^msg_/);
    // the owner can reference it
    const next = await a.responses.create({
      model: 'claude-sonnet-4-5',
      input: [
        { type: 'item_reference', id: itemId },
        { role: 'user', content: 'And?' },
      ],
    });
    expect(next.status).toBe('completed');
    const sent = anthropic.requests.at(-1)?.body?.messages as Array<{ role: string; content: unknown }>;
    expect(sent[0]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Hello there.' }] });
    const b = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-team-b', maxRetries: 0 });
    for (const [client, id] of [
      [b, itemId],
      [a, 'msg_unknown123'],
    ] as const) {
      const err = await client.responses
        .create({
          model: 'claude-sonnet-4-5',
          input: [
            { type: 'item_reference', id },
            { role: 'user', content: 'x' },
          ],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('input');
      expect((err as Error).message).toContain(`Item with id '${id}' not found`);
    }
  });
});
