// The built-in `mock` provider: answers in OpenAI's wire format without a network, deterministically.
// The text is a fixed word list cycled to the configured token count (one word = one token by the
// mock's own accounting, which it reports as usage), so demos and load tests need no upstream at all.
import { setTimeout as sleep } from 'node:timers/promises';
import { openaiChat, openaiCompletions, openaiEmbeddings } from '../api/openai.ts';
import type { MockSettings } from '../config/schema.ts';
import type { UpstreamRequest } from '../providers/types.ts';
import { countPromptTokens, countTokens, encodingForModel } from '../tokens/counter.ts';
import { type CancelSignal, sleepSignal } from './cancellation.ts';
import type { EffectiveTimeouts, Transport, UpstreamResponse } from './transport.ts';
import { bodyOf } from './upstream_body.ts';

const WORDS = [
  'Sluice',
  ' routes',
  ' every',
  ' request',
  ' to',
  ' the',
  ' right',
  ' model',
  ' and',
  ' counts',
  ' each',
  ' token',
  '.',
];

function words(n: number, text: string | undefined): string[] {
  if (text !== undefined) {
    const parts = text.match(/\s*\S+/g) ?? [];
    return Array.from({ length: n }, (_, i) => parts[i % Math.max(1, parts.length)] ?? '');
  }
  // Later cycles start with a space so the sentence repeats readably.
  return Array.from(
    { length: n },
    (_, i) => (i >= WORDS.length && i % WORDS.length === 0 ? ' ' : '') + (WORDS[i % WORDS.length] ?? ''),
  );
}

/**
 * The prompt size the mock reports: counted exactly as Sluice counts prompts for the model's family,
 * so accounting tests can compare Sluice's reservation with "provider-reported" usage.
 */
function promptTokens(body: Record<string, unknown>): number {
  const encoding = encodingForModel(String(body.model));
  if (Array.isArray(body.messages)) {
    return countPromptTokens(openaiChat.promptText(body), openaiChat.turns(body), encoding);
  }
  const spec = body.prompt !== undefined ? openaiCompletions : openaiEmbeddings;
  return Math.max(1, countTokens(spec.promptText(body), encoding));
}

export class MockTransport implements Transport {
  readonly #settings: MockSettings;

  constructor(settings: MockSettings) {
    this.#settings = settings;
  }

  async send(req: UpstreamRequest, signal: CancelSignal, _t: EffectiveTimeouts): Promise<UpstreamResponse> {
    const s = this.#settings;
    if (s.latencyMs > 0) await sleep(s.latencyMs, undefined, { signal: sleepSignal(signal) });
    const body = JSON.parse(String(req.body)) as Record<string, unknown>;
    const model = String(body.model);
    const id = `mock-${Date.now().toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const json = { 'content-type': 'application/json' };
    if (req.path.endsWith('/embeddings')) {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      const data = inputs.map((_, index) => ({
        object: 'embedding',
        index,
        embedding: [0.1, 0.2, 0.3, 0.4],
      }));
      const prompt = promptTokens(body);
      const usage = { prompt_tokens: prompt, total_tokens: prompt };
      return respond(200, json, JSON.stringify({ object: 'list', data, model, usage }));
    }
    const completions = req.path.endsWith('/completions') && !req.path.endsWith('/chat/completions');
    const maxTokens = Number(body.max_completion_tokens ?? body.max_tokens ?? Number.POSITIVE_INFINITY);
    const n = Math.min(s.outputTokens, maxTokens);
    const finish = n < s.outputTokens ? 'length' : 'stop';
    const out = words(n, s.text);
    // `n` answers, as OpenAI gives them (each the same deterministic text), billed n times
    const answers = Math.max(1, Math.min(128, Number.isInteger(body.n) ? (body.n as number) : 1));
    const indexes = Array.from({ length: answers }, (_, i) => i);
    const prompt = promptTokens(body);
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: n * answers,
      total_tokens: prompt + n * answers,
    };
    if (body.stream !== true) {
      const text = out.join('');
      const choices = indexes.map((index) =>
        completions
          ? { index, text, finish_reason: finish, logprobs: null }
          : {
              index,
              message: { role: 'assistant', content: text, refusal: null },
              finish_reason: finish,
              logprobs: null,
            },
      );
      const object = completions ? 'text_completion' : 'chat.completion';
      return respond(200, json, JSON.stringify({ id, object, created, model, choices, usage }));
    }
    const object = completions ? 'text_completion' : 'chat.completion.chunk';
    const includeUsage =
      (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const frame = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object, created, model, choices, ...extra })}\n\n`;
    const delta = (index: number, content: string, first: boolean) =>
      completions
        ? { index, text: content, finish_reason: null }
        : {
            index,
            delta: first ? { role: 'assistant', content, refusal: null } : { content },
            finish_reason: null,
          };
    async function* generate(): AsyncGenerator<Buffer> {
      for (let i = 0; i < out.length; i += s.chunkTokens) {
        if (i > 0 && s.chunkDelayMs > 0)
          await sleep(s.chunkDelayMs, undefined, { signal: sleepSignal(signal) });
        const text = out.slice(i, i + s.chunkTokens).join('');
        yield Buffer.from(indexes.map((index) => frame([delta(index, text, i === 0)])).join(''));
      }
      const last = (index: number) =>
        completions
          ? { index, text: '', finish_reason: finish }
          : { index, delta: {}, finish_reason: finish };
      const ends = indexes.map((index) => frame([last(index)])).join('');
      yield Buffer.from(ends + (includeUsage ? frame([], { usage }) : '') + 'data: [DONE]\n\n');
    }
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: bodyOf(generate()),
    };
  }

  async close(): Promise<void> {}
}

function respond(status: number, headers: Record<string, string>, text: string): UpstreamResponse {
  return { status, headers, body: bodyOf([Buffer.from(text)]) };
}
