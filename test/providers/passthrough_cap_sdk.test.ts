// A reasoning model on an OpenAI-compatible backend (passed through) whose output is capped by a
// tenant policy while it is still reasoning: the client must see the reasoning cut short, never the
// reasoning as its answer. Sluice wrote the cut chunk's allowed text back as `content`, so the openai
// SDK's final message said "Let me..." as if the model had answered. Scripted upstream (the exact
// chunks a reasoning server sends), real in-process dataplane, tenant capped at 2 output tokens.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedUpstream, startScriptedUpstream } from '../fakes/scripted_upstream.ts';
import { chatChunk, serveChatStream } from '../helpers/chat_chunks.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

let up: ScriptedUpstream;
let dp: InProcessDataplane;

beforeAll(async () => {
  up = await startScriptedUpstream();
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      {
        name: 'r1',
        type: 'vllm',
        baseUrl: `${up.url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [
      { name: 'r1', match: { models: ['*'] }, backends: [{ provider: 'r1' }], retry: { attempts: 0 } },
    ],
    namespaces: [
      { name: 'capped', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-capped') }] }, policies: ['two'] },
    ],
    policies: [{ name: 'two', maxOutputTokens: { limit: 2 } }],
  });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

describe('a cap while a passed-through reasoning model is still reasoning', () => {
  it('the reasoning is cut short and never becomes the answer', async () => {
    serveChatStream(up, [
      chatChunk({ role: 'assistant', content: null, reasoning_content: 'Let me think about this carefully' }),
      chatChunk({ content: 'The answer is 4.' }, 'stop'),
    ]);
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-capped', maxRetries: 0 });
    const stream = client.chat.completions.stream({
      model: 'r1',
      messages: [{ role: 'user', content: '2+2?' }],
    });
    const reasoning: string[] = [];
    stream.on('chunk', (c) => {
      const r = (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content;
      if (r) reasoning.push(r);
    });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    expect(choice?.finish_reason).toBe('length');
    expect(choice?.message.role).toBe('assistant');
    expect(choice?.message.content ?? '').toBe('');
    expect(reasoning.join('').length).toBeGreaterThan(0);
    expect('Let me think about this carefully'.startsWith(reasoning.join(''))).toBe(true);
  });
});
