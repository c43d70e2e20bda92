// Streaming output caps on translated Gemini and Bedrock streams, for both client APIs: the core trims
// the delta that crosses the cap and closes the stream in the client's format (OpenAI finish_reason
// "length" + usage; Anthropic stop_reason "max_tokens" with a well-formed event sequence).
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import type { Gate } from '../../dataplane/src/proxy/policy_interface.ts';
import { type FakeBedrock, startFakeBedrock, textEvents } from '../fakes/bedrock.ts';
import { type FakeGemini, startFakeGemini, textChunks } from '../fakes/gemini.ts';
import { configDir, type TestConfigDir } from '../helpers/dataplane.ts';
import { testLogger } from '../helpers/logging.ts';
import { assertAnthropicGrammar, parseSse } from './anthropic_helpers.ts';

const SECRET = process.env.SLUICE_TEST_KEY as string;
const AWS = { accessKeyId: 'AKIACAPSTEST', secretAccessKey: 'caps/secret' };
const WORDS = ['Alpha ', 'beta ', 'gamma ', 'delta ', 'epsilon ', 'zeta'];
let gemini: FakeGemini;
let bedrock: FakeBedrock;
let dp: Dataplane;
let cfg: TestConfigDir;
let url: string;

// admits everyone with an output cap of 3 tokens (the policy engine's job in production)
const capGate: Gate = {
  identify: () => ({ namespace: 'team' }),
  authorize: () => {},
  visibleModel: () => true,
  admit: async () => ({ headers: {}, outputCap: 3, cacheKey: undefined, complete: () => {} }),
};

beforeAll(async () => {
  process.env.SLUICE_TEST_CAPS_AWS_ID = AWS.accessKeyId;
  process.env.SLUICE_TEST_CAPS_AWS_SECRET = AWS.secretAccessKey;
  gemini = await startFakeGemini({ apiKey: SECRET });
  gemini.script(() => ({ chunks: textChunks(WORDS) }));
  bedrock = await startFakeBedrock({ ...AWS, region: 'us-east-1' });
  bedrock.script(() => ({ events: textEvents(WORDS) }));
  cfg = configDir({
    providers: [
      {
        name: 'gem',
        type: 'gemini',
        baseUrl: gemini.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
      {
        name: 'aws',
        type: 'bedrock',
        region: 'us-east-1',
        baseUrl: bedrock.url,
        credentials: {
          accessKeyId: { env: 'SLUICE_TEST_CAPS_AWS_ID' },
          secretAccessKey: { env: 'SLUICE_TEST_CAPS_AWS_SECRET' },
        },
      },
    ],
    routes: [
      { name: 'gemini', match: { models: ['gemini-*'] }, backends: [{ provider: 'gem' }] },
      {
        name: 'bedrock',
        match: { models: ['claude-bedrock'] },
        backends: [{ provider: 'aws', model: 'anthropic.claude-v2' }],
      },
    ],
    namespaces: [{ name: 'team', default: true }],
  });
  dp = new Dataplane({
    configFile: cfg.file,
    log: testLogger(),
    host: '127.0.0.1',
    port: 0,
    gateFactory: () => capGate,
  });
  url = await dp.start();
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await gemini?.close();
  await bedrock?.close();
});

describe('output caps on gemini and bedrock streams', () => {
  for (const model of ['gemini-2.5-flash', 'claude-bedrock']) {
    it(`OpenAI client, ${model}: finish_reason length and usage of the cap`, async () => {
      const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k', maxRetries: 0 });
      const stream = await c.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'count' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(finish).toBe('length');
      expect(usage?.completion_tokens).toBe(3);
      expect(text.length).toBeGreaterThan(0);
      expect(WORDS.join('').startsWith(text)).toBe(true);
      expect(text.length).toBeLessThan(WORDS.join('').length);
    });

    it(`Anthropic client, ${model}: stop_reason max_tokens in a well-formed event sequence`, async () => {
      const c = new Anthropic({ baseURL: url, apiKey: 'k', maxRetries: 0 });
      const msg = await c.messages
        .stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'count' }] })
        .finalMessage();
      expect(msg.stop_reason).toBe('max_tokens');
      expect(msg.usage.output_tokens).toBe(3);
      const text = msg.content[0]?.type === 'text' ? msg.content[0].text : '';
      expect(text.length).toBeGreaterThan(0);
      expect(WORDS.join('').startsWith(text)).toBe(true);
      const raw = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          max_tokens: 100,
          stream: true,
          messages: [{ role: 'user', content: 'count' }],
        }),
      });
      assertAnthropicGrammar(parseSse(await raw.text()));
    });
  }
});
