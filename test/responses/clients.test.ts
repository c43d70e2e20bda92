// The Responses API through Sluice with the clients people run: the official openai SDK (plain,
// streamed, tools with previous_response_id), the Vercel AI SDK's default `openai(model)`, the OpenAI
// Agents SDK running an agent with one function tool, and LangChain's ChatOpenAI on the Responses API.
// Each runs through a real `sluice serve` against every backend type, with fakes that speak and check each provider's wire format:
// OpenAI natively (its own Responses API), an OpenAI-compatible server through chat, Anthropic,
// Gemini and Bedrock.
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool } from '@openai/agents';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AnthropicRequestRecord, type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import {
  type BedrockEvent,
  type BedrockRequest,
  type FakeBedrock,
  startFakeBedrock,
  textEvents,
} from '../fakes/bedrock.ts';
import { type FakeGemini, type GeminiRequest, startFakeGemini, textChunks } from '../fakes/gemini.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

type Obj = Record<string, unknown>;

const AWS = {
  accessKeyId: 'AKIAQ3EGRESP7TEST01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiQ9z7Rt2Xk4Lm',
};
const CITY = /\b(Paris|Rome|Lyon|Tokyo)\b/;
const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

let oai: FakeAgentic;
let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let dp: DataplaneProcess;
let cfg: TestConfigDir;
let client: OpenAI;

/** Anthropic "model": tool_use for a city when tools are offered, the result after a tool_result. */
function anthropicBrain(req: AnthropicRequestRecord) {
  const messages = (req.body?.messages ?? []) as Array<{ role: string; content: unknown }>;
  const last = messages.at(-1)?.content;
  const blocks = Array.isArray(last) ? (last as Obj[]) : [{ type: 'text', text: last }];
  const result = blocks.find((b) => b.type === 'tool_result');
  if (result) {
    const text = typeof result.content === 'string' ? result.content : JSON.stringify(result.content);
    return { content: [{ type: 'text' as const, text: `The weather is ${text}.` }] };
  }
  const city = CITY.exec(blocks.map((b) => String(b.text ?? '')).join(''))?.[1];
  if (req.body?.tools && city)
    return {
      content: [{ type: 'tool_use' as const, id: 'toolu_weather1', name: 'get_weather', input: { city } }],
      stopReason: 'tool_use',
    };
  return {};
}

function geminiBrain(req: GeminiRequest) {
  const contents = (req.body?.contents ?? []) as Array<{ parts: Obj[] }>;
  const parts = contents.at(-1)?.parts ?? [];
  const response = parts.find((p) => p.functionResponse)?.functionResponse as Obj | undefined;
  if (response) return { chunks: textChunks([`The weather is ${JSON.stringify(response.response)}.`]) };
  const city = CITY.exec(parts.map((p) => String(p.text ?? '')).join(''))?.[1];
  if (req.body?.tools && city)
    return {
      chunks: [
        {
          candidates: [
            {
              index: 0,
              content: { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city } } }] },
              finishReason: 'STOP',
            },
          ],
          usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, totalTokenCount: 25 },
        },
      ],
    };
  return {};
}

function bedrockBrain(req: BedrockRequest) {
  const messages = (req.body?.messages ?? []) as Array<{ content: Obj[] }>;
  const blocks = messages.at(-1)?.content ?? [];
  const result = blocks.find((b) => b.toolResult)?.toolResult as { content: Obj[] } | undefined;
  if (result) return { events: textEvents([`The weather is ${JSON.stringify(result.content)}.`]) };
  const city = CITY.exec(blocks.map((b) => String(b.text ?? '')).join(''))?.[1];
  if (req.body?.toolConfig && city) {
    const events: BedrockEvent[] = [
      { type: 'messageStart', payload: { role: 'assistant' } },
      {
        type: 'contentBlockStart',
        payload: {
          contentBlockIndex: 0,
          start: { toolUse: { toolUseId: 'tooluse_w1', name: 'get_weather' } },
        },
      },
      {
        type: 'contentBlockDelta',
        payload: { contentBlockIndex: 0, delta: { toolUse: { input: JSON.stringify({ city }) } } },
      },
      { type: 'contentBlockStop', payload: { contentBlockIndex: 0 } },
      { type: 'messageStop', payload: { stopReason: 'tool_use' } },
      {
        type: 'metadata',
        payload: { usage: { inputTokens: 20, outputTokens: 5, totalTokens: 25 }, metrics: { latencyMs: 1 } },
      },
    ];
    return { events };
  }
  return {};
}

beforeAll(async () => {
  oai = await startFakeAgentic(UPSTREAM_KEY);
  anthropic = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  anthropic.setScript(anthropicBrain);
  gemini = await startFakeGemini({ apiKey: UPSTREAM_KEY });
  gemini.script(geminiBrain);
  bedrock = await startFakeBedrock({ ...AWS, region: 'us-east-1' });
  bedrock.script(bedrockBrain);
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  cfg = configDir({
    providers: [
      { name: 'oa', type: 'openai', baseUrl: `${oai.url}/v1`, credentials: key },
      { name: 'compat', type: 'vllm', baseUrl: `${oai.url}/v1`, credentials: key },
      { name: 'claude', type: 'anthropic', baseUrl: anthropic.url, credentials: key },
      { name: 'gem', type: 'gemini', baseUrl: gemini.url, credentials: key },
      {
        name: 'aws',
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: bedrock.url,
        credentials: {
          accessKeyId: { env: 'SLUICE_TEST_RESP_AWS_ID' },
          secretAccessKey: { env: 'SLUICE_TEST_RESP_AWS_SECRET' },
        },
      },
    ],
    routes: [
      { name: 'native', match: { models: ['native-gpt'] }, backends: [{ provider: 'oa', model: 'gpt-5' }] },
      {
        name: 'chat',
        match: { models: ['compat-llama'] },
        backends: [{ provider: 'compat', model: 'llama' }],
      },
      {
        name: 'claude',
        match: { models: ['claude-x'] },
        backends: [{ provider: 'claude', model: 'claude-sonnet-4-5' }],
      },
      {
        name: 'gemini',
        match: { models: ['gemini-x'] },
        backends: [{ provider: 'gem', model: 'gemini-2.5-flash' }],
      },
      {
        name: 'bedrock',
        match: { models: ['bedrock-x'] },
        backends: [{ provider: 'aws', model: 'anthropic.claude-v4' }],
      },
    ],
  });
  // a real `sluice serve` process, as users run it
  dp = await spawnDataplane(cfg.file, {
    SLUICE_TEST_RESP_AWS_ID: AWS.accessKeyId,
    SLUICE_TEST_RESP_AWS_SECRET: AWS.secretAccessKey,
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });
  setTracingDisabled(true);
  setOpenAIAPI('responses');
  setDefaultOpenAIClient(client as never);
}, 60_000);

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await Promise.all([oai?.close(), anthropic?.close(), gemini?.close(), bedrock?.close()]);
});

const MODELS = ['native-gpt', 'compat-llama', 'claude-x', 'gemini-x', 'bedrock-x'];

describe.each(MODELS)('openai SDK responses.create -> %s', (model) => {
  it('answers plain text with usage', async () => {
    const r = await client.responses.create({ model, input: 'Say hello', instructions: 'Be brief.' });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
    expect(r.id).toMatch(/^resp_/);
  });

  it('streams typed events whose deltas add up to the completed response', async () => {
    const stream = await client.responses.create({ model, input: 'Say hello', stream: true });
    const types: string[] = [];
    const seqs: number[] = [];
    let text = '';
    let done: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') done = ev.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.completed');
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(done?.output_text ?? outputText(done)).toBe(text);
    expect(done?.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('calls a function tool, then continues with previous_response_id and the tool output', async () => {
    const first = await client.responses.create({ model, input: 'Weather in Paris?', tools: [WEATHER_TOOL] });
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather' });
    expect(JSON.parse((call as { arguments: string }).arguments)).toEqual({ city: 'Paris' });
    const second = await client.responses.create({
      model,
      previous_response_id: first.id,
      tools: [WEATHER_TOOL],
      input: [
        { type: 'function_call_output', call_id: (call as { call_id: string }).call_id, output: '21C sunny' },
      ],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toContain('21C sunny');
  });
});

function outputText(r: OpenAI.Responses.Response | undefined): string {
  return (r?.output ?? [])
    .flatMap((o) => (o.type === 'message' ? o.content : []))
    .map((c) => (c.type === 'output_text' ? c.text : ''))
    .join('');
}

describe('conversation state', () => {
  it('previous_response_id carries the whole conversation to a backend that keeps none', async () => {
    const a = await client.responses.create({ model: 'compat-llama', input: 'My name is Ada.' });
    const b = await client.responses.create({
      model: 'compat-llama',
      input: 'Who am I?',
      previous_response_id: a.id,
    });
    // system-less: user, assistant, user
    expect(b.output_text).toBe('3 turns; you said: Who am I?');
    const sent = oai.requests.at(-1)?.body.messages as Obj[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[0]?.content).toBe('My name is Ada.');
  });

  it('GET, input_items and DELETE a stored response; store: false keeps nothing', async () => {
    const a = await client.responses.create({ model: 'claude-x', input: 'Remember me' });
    const got = await client.responses.retrieve(a.id);
    expect(got.id).toBe(a.id);
    expect(got.output_text).toBe(a.output_text);
    const items = await client.responses.inputItems.list(a.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'Remember me' }],
    });
    await client.responses.delete(a.id);
    await expect(client.responses.retrieve(a.id)).rejects.toMatchObject({ status: 404 });

    const b = await client.responses.create({ model: 'claude-x', input: 'Forget me', store: false });
    await expect(client.responses.retrieve(b.id)).rejects.toMatchObject({ status: 404 });
    const err = await client.responses
      .create({ model: 'claude-x', input: 'x', previous_response_id: b.id })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
      param: 'previous_response_id',
    });
  });
});

describe.each(MODELS)('Vercel AI SDK openai(model) -> %s', (model) => {
  const provider = () => createOpenAI({ baseURL: dp.baseURL, apiKey: 'unused' });

  it('generateText', async () => {
    const r = await generateText({ model: provider()(model), prompt: 'Say hello' });
    expect(r.text.length).toBeGreaterThan(0);
    expect(r.usage.outputTokens).toBeGreaterThan(0);
  });

  it('streamText', async () => {
    const r = streamText({ model: provider()(model), prompt: 'Say hello' });
    let text = '';
    for await (const delta of r.textStream) text += delta;
    expect(text.length).toBeGreaterThan(0);
    expect(text).toBe(await r.text);
  });
});

describe.each(MODELS)('OpenAI Agents SDK agent with one function tool -> %s', (model) => {
  it('calls the tool and answers with its result', async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `18C in ${city}`;
      },
    });
    const agent = new Agent({ name: 'weather', instructions: 'Use the tool.', model, tools: [getWeather] });
    const result = await run(agent, 'Weather in Lyon?');
    expect(calls).toEqual(['Lyon']);
    expect(String(result.finalOutput)).toContain('18C in Lyon');
  });
});

describe.each(MODELS)('LangChain ChatOpenAI({ useResponsesApi: true }) -> %s', (model) => {
  it('invokes', async () => {
    const chat = new ChatOpenAI({
      model,
      apiKey: 'unused',
      useResponsesApi: true,
      maxRetries: 0,
      configuration: { baseURL: dp.baseURL },
    });
    const msg = await chat.invoke('Say hello');
    expect(String(msg.text).length).toBeGreaterThan(0);
  });
});
