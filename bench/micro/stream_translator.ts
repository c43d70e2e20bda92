// The OpenAI passthrough stream translator alone (SSE framing + reading each chunk's text, usage and
// finish_reason), in-process: µs per 20-chunk stream. Two shapes of the same answer:
// - `mock`: the exact bytes bench/mock_upstream.ts sends (one upstream read per chunk, then one read
//   holding the finish chunk, the usage chunk and [DONE]);
// - `openai`: what api.openai.com sends when asked for stream usage: `"usage":null`, `service_tier` and a
//   random `obfuscation` string on every chunk, a role-only first delta with `refusal`.
// Run: `node bench/micro/stream_translator.ts [--tree DIR ...] [--rounds N] [--streams N]` prints one
// JSON object. Each `--tree` loads the translator from another checkout (e.g. one `bench/ab.ts`
// exported, or `git archive` of a revision with node_modules linked in): rounds alternate between them,
// so a before/after pair is measured in one process under the same load.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { StreamEvent, Translator } from '../../dataplane/src/providers/types.ts';
import { resolvedProvider, translateContext } from '../../test/helpers/provider_context.ts';
import { buildAnswers } from '../mock_upstream.ts';
import { round, summarize } from '../stats.ts';
import { MODEL, PIECES, USAGE } from '../workload.ts';

/** The reads of one stream as api.openai.com shapes them (one chunk per read, the tail together). */
function openaiReads(): Buffer[] {
  const base = {
    id: 'chatcmpl-CFXbzPNM6qJ1b2oWz3x4y5z6a7b8c',
    object: 'chat.completion.chunk',
    created: 1_760_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    service_tier: 'default',
    system_fingerprint: 'fp_560af6e559',
  };
  let seed = 7;
  const obfuscation = () => {
    // what OpenAI pads with: a few random alphanumerics, different on every chunk
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed.toString(36).slice(0, 2 + (seed % 9));
  };
  const frame = (choices: unknown[], usage: unknown) =>
    `data: ${JSON.stringify({ ...base, choices, usage, obfuscation: obfuscation() })}\n\n`;
  const reads = [
    frame(
      [
        {
          index: 0,
          delta: { role: 'assistant', content: '', refusal: null },
          logprobs: null,
          finish_reason: null,
        },
      ],
      null,
    ),
    ...PIECES.map((content) =>
      frame([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }], null),
    ),
  ];
  const tail =
    frame([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], null) +
    frame([], {
      ...USAGE,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    }) +
    'data: [DONE]\n\n';
  return [...reads.map((r) => Buffer.from(r)), Buffer.from(tail)];
}

function mockReads(): Buffer[] {
  const a = buildAnswers(MODEL);
  return [...a.chunks, a.tail];
}

/** One stream through a fresh translator; returns the text seen so the work cannot be optimised away. */
function oneStream(t: Translator, ctx: ReturnType<typeof translateContext>, reads: Buffer[]): number {
  const st = t.createStream(ctx);
  let n = 0;
  const count = (ev: StreamEvent) => (ev.text?.length ?? 0) + (ev.usage ? 1 : 0) + (ev.done ? 1 : 0);
  for (const r of reads) for (const ev of st.push(r)) n += count(ev);
  for (const ev of st.end()) n += count(ev);
  return n;
}

/** Where the tree keeps the OpenAI passthrough translator (revisions before issue 16's layout: providers/). */
function translatorFile(tree: string): string {
  const file = 'dataplane/src/providers/translators/openai_to_openai.ts';
  return existsSync(join(tree, file)) ? file : 'dataplane/src/providers/openai_openai.ts';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tree: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '7' },
      streams: { type: 'string', default: '20000' },
    },
  });
  const trees = (values.tree ?? [join(import.meta.dirname, '..', '..')]).map((t) => resolve(t));
  const translators: Translator[] = [];
  for (const tree of trees) {
    const mod = (await import(join(tree, translatorFile(tree)))) as {
      openaiToOpenai: Translator[];
    };
    const translator = mod.openaiToOpenai.find((t) => t.clientApi === 'openai-chat');
    if (!translator) throw new Error(`${tree}: no openai-chat translator`);
    translators.push(translator);
  }
  const ctx = translateContext(resolvedProvider('openai'), { model: MODEL, stream: true, wantsUsage: true });
  const shapes = { mock: mockReads(), openai: openaiReads() };
  const expected = PIECES.join('').length + 2; // all text, one usage, one done
  const rounds = Number(values.rounds);
  const streams = Number(values.streams);
  const results = trees.map((tree) => ({ tree }) as Record<string, unknown>);
  for (const [name, reads] of Object.entries(shapes)) {
    const perStream = translators.map((): number[] => []);
    for (const t of translators) {
      if (oneStream(t, ctx, reads) !== expected) throw new Error(`${name}: wrong translation`);
      for (let i = 0; i < streams; i++) oneStream(t, ctx, reads); // warm up
    }
    // rounds alternate between the trees, so a busy neighbour slows them alike
    for (let r = 0; r < rounds; r++) {
      for (const [k, t] of translators.entries()) {
        const t0 = process.hrtime.bigint();
        let sink = 0;
        for (let i = 0; i < streams; i++) sink += oneStream(t, ctx, reads);
        const us = Number(process.hrtime.bigint() - t0) / 1000 / streams;
        if (sink !== expected * streams) throw new Error(`${name}: wrong translation under load`);
        perStream[k]?.push(us);
      }
    }
    for (const [k, runs] of perStream.entries()) {
      const s = summarize(runs);
      const first = summarize(perStream[0] ?? []).median;
      (results[k] as Record<string, unknown>)[name] = {
        usPerStream: round(s.median),
        min: round(s.min),
        max: round(s.max),
        ...(k > 0 ? { ratioToFirst: round(s.median / first) } : {}),
        bytesPerStream: reads.reduce((n, b) => n + b.length, 0),
      };
    }
  }
  process.stdout.write(`${JSON.stringify({ node: process.version, streams, rounds, results })}\n`);
}

await main();
