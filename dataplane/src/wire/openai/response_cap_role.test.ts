// The chunk writer every translated OpenAI chat stream uses (Anthropic, Gemini, Bedrock backends)
// announces `role: "assistant"` on a choice's first delta. When a cap cut that very delta, the client
// never got the role: the trimmed delta and the finish chunk went out without it, and the openai SDK's
// stream helper threw "missing role for choice 0". The ending now announces it again.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { anthropicSse } from '../../../../test/providers/anthropic_helpers.ts';
import { openaiToAnthropic } from '../../providers/translators/openai_to_anthropic.ts';
import type { StreamEvent } from '../../providers/types.ts';
import { SseParser } from '../sse.ts';

type Delta = { role?: string; content?: string; reasoning_content?: string };
type Chunk = { choices: Array<{ delta: Delta; finish_reason: string | null }> };

async function stream() {
  const c = translateContext(resolvedProvider('anthropic', { name: 'claude' }), { model: 'm', stream: true });
  await openaiToAnthropic.buildRequest(
    { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
    c,
  );
  return openaiToAnthropic.createStream(c);
}

const start = {
  type: 'message_start',
  message: {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'm',
    content: [],
    usage: { input_tokens: 5 },
  },
};
const delta = (d: Record<string, unknown>) => ({ type: 'content_block_delta', index: 0, delta: d });

/** The chunks of the client's stream: what went out before the cut event, then the ending. */
function clientChunks(before: StreamEvent[], ending: string): Chunk[] {
  const data = before.map((e) => String(e.data)).join('') + ending;
  return new SseParser()
    .push(data)
    .filter((f) => f.data !== '[DONE]')
    .map((f) => JSON.parse(f.data) as Chunk)
    .filter((c) => c.choices.length > 0);
}

describe('a cap that cuts the delta announcing the role', () => {
  for (const [what, d] of [
    ['text', { type: 'text_delta', text: 'Hello there friend' }],
    ['reasoning', { type: 'thinking_delta', thinking: 'Let me think hard' }],
  ] as const) {
    it(`the trimmed ${what} delta announces it again`, async () => {
      const st = await stream();
      const evs = st.push(Buffer.from(anthropicSse([start, delta(d)])));
      const cut = evs.find((e) => e.text) as StreamEvent;
      const ending = st.textChunk('He', cut) + st.finish('length', { inputTokens: 5, outputTokens: 1 }, cut);
      const chunks = clientChunks(evs.slice(0, evs.indexOf(cut)), ending);
      expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
      expect(chunks.filter((c) => c.choices[0]?.delta.role)).toHaveLength(1);
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    });
  }

  it('none of the delta allowed: the finish chunk announces it', async () => {
    const st = await stream();
    const evs = st.push(Buffer.from(anthropicSse([start, delta({ type: 'text_delta', text: 'Hello' })])));
    const cut = evs.find((e) => e.text) as StreamEvent;
    const chunks = clientChunks(
      evs.slice(0, evs.indexOf(cut)),
      st.finish('length', { inputTokens: 5, outputTokens: 0 }, cut),
    );
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.choices[0]).toMatchObject({ delta: { role: 'assistant' }, finish_reason: 'length' });
  });

  it('a later cut leaves the role where it was, once', async () => {
    const st = await stream();
    const first = st.push(Buffer.from(anthropicSse([start, delta({ type: 'text_delta', text: 'Hi' })])));
    const cut = st.push(
      Buffer.from(anthropicSse([delta({ type: 'text_delta', text: ' there friend' })])),
    )[0] as StreamEvent;
    const ending = st.textChunk(' th', cut) + st.finish('length', { inputTokens: 5, outputTokens: 2 }, cut);
    const chunks = clientChunks(first, ending);
    expect(chunks.filter((c) => c.choices[0]?.delta.role)).toHaveLength(1);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi th');
  });
});
