// The OpenAI passthrough stream translator reads plain delta chunks without JSON.parse (a scanner, then
// the previous chunk as a template) and frames bytes without a streaming TextDecoder. Whatever the
// upstream sends, split wherever, it must give exactly what the full-parse implementation gave: the
// same events (data, text, usage, done), the same errors, and the same synthesised chunks afterwards
// (which carry the id, model and created the stream last reported).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { RefOpenAIStream, refMisreadsBom } from '../../../../test/providers/openai_stream_reference.ts';
import { GatewayError } from '../../errors.ts';
import type { ClientApi, StreamTranslator } from '../types.ts';
import { openaiToOpenai } from './openai_to_openai.ts';

// --- JSON text with control over spelling: spaces, escapes, duplicate keys --------------------------

type Node =
  | { t: 'tok'; v: string } // a number, true, false or null as written
  | { t: 'str'; v: string }
  | { t: 'arr'; v: Node[] }
  | { t: 'obj'; v: Array<[string, Node]> };

const tok = (v: string): Node => ({ t: 'tok', v });
const str = (v: string): Node => ({ t: 'str', v });
const arr = (...v: Node[]): Node => ({ t: 'arr', v });
const obj = (...v: Array<[string, Node] | undefined>): Node => ({
  t: 'obj',
  v: v.filter((e): e is [string, Node] => e !== undefined),
});

interface Style {
  space: boolean;
  /** spell some characters as escapes (keys included: "cont\u0065nt" is "content") */
  escape: boolean;
}

function literal(s: string, style: Style): string {
  const j = JSON.stringify(s);
  return style.escape ? j.replaceAll('e', '\\u0065').replaceAll('/', '\\/') : j;
}

function ser(n: Node, style: Style): string {
  const sp = style.space ? ' ' : '';
  switch (n.t) {
    case 'tok':
      return n.v;
    case 'str':
      return literal(n.v, style);
    case 'arr':
      return `[${n.v.map((x) => ser(x, style)).join(`,${sp}`)}]`;
    case 'obj':
      return `{${n.v.map(([k, x]) => `${literal(k, style)}:${sp}${ser(x, style)}`).join(`,${sp}`)}}`;
  }
}

// --- generators ----------------------------------------------------------------------------------------

const nasty = fc.constantFrom(
  '"',
  '\\',
  '\\"',
  '"usage":{"prompt_tokens":1}',
  '"finish_reason":"stop"',
  '"error":{"message":"x"}',
  '"content":"y"',
  '}]}',
  '{"choices":[',
  '\u0000',
  '\n',
  '\r\n',
  '\t',
  '\u2028',
  'é',
  '世界',
  '😀',
  '\ud800',
  '\udc00',
  '/',
  'null',
  'data: [DONE]\n\n',
);
const text = fc
  .array(fc.oneof(nasty, fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 3 })), {
    maxLength: 5,
  })
  .map((a) => a.join(''));

/** mostly the common option (weight w against 1 for each other), sometimes any other */
function mostly<T>(w: number, common: fc.Arbitrary<T>, ...others: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: common, weight: w }, ...others.map((a) => ({ arbitrary: a, weight: 1 })));
}
const absent = fc.constant(undefined);
const usageObj = fc
  .tuple(fc.nat(50), fc.nat(50), fc.boolean())
  .map(([p, c, details]) =>
    obj(
      ['prompt_tokens', tok(String(p))],
      ['completion_tokens', tok(String(c))],
      ['total_tokens', tok(String(p + c))],
      details ? ['prompt_tokens_details', obj(['cached_tokens', tok('2')])] : undefined,
    ),
  );
const oddValue = fc.constantFrom(tok('0'), tok('false'), str(''), str('x'), arr(), obj(), tok('1'));
const entry = (k: string, v: fc.Arbitrary<Node | undefined>) =>
  v.map((x): [string, Node] | undefined => (x === undefined ? undefined : [k, x]));

const delta = (t: fc.Arbitrary<string>, w: number) =>
  fc
    .tuple(
      entry('role', fc.oneof(absent, fc.constant(str('assistant')))),
      entry('content', mostly(w, t.map(str), fc.constant(tok('null')), absent, fc.constant(tok('5')))),
      entry('reasoning_content', mostly(w, absent, fc.constant(tok('null')), t.map(str))),
      entry(
        'tool_calls',
        mostly(
          w,
          absent,
          fc.constant(tok('null')),
          t.map((a) => arr(obj(['index', tok('0')], ['function', obj(['arguments', str(a)])]))),
        ),
      ),
      entry('refusal', fc.oneof(absent, fc.constant(tok('null')))),
    )
    .map((e) => obj(...e));

const choice = (t: fc.Arbitrary<string>, w: number) =>
  fc
    .tuple(
      entry('index', fc.constant(tok('0'))),
      entry('delta', mostly(w, delta(t, w), fc.constant(tok('null')), absent)),
      entry('text', mostly(w, absent, t.map(str), fc.constant(tok('null')))),
      entry('logprobs', mostly(w, fc.constant(tok('null')), absent, fc.constant(obj(['content', arr()])))),
      entry(
        'finish_reason',
        mostly(w, fc.constant(tok('null')), absent, fc.constant(str('stop')), fc.constant(str(''))),
      ),
      entry('usage', mostly(w, absent, fc.constant(tok('null')), usageObj)),
      entry('stop_reason', mostly(w, absent, fc.constant(tok('null')), fc.constant(tok('7')))),
    )
    .map((e) => obj(...e));

/** A chunk of a stream whose id, model and created are usually the stream's own. */
function chunk(
  id: string,
  model: string,
  created: string,
  t: fc.Arbitrary<string>,
  w: number,
): fc.Arbitrary<Node> {
  return fc
    .tuple(
      entry('id', mostly(w, fc.constant(str(id)), absent, t.map(str), fc.constant(tok('3')))),
      entry('object', fc.constant(str('chat.completion.chunk'))),
      entry(
        'created',
        mostly(w, fc.constant(tok(created)), absent, fc.constantFrom(tok('0'), tok('1.5e3'), tok('-0'))),
      ),
      entry('model', mostly(w, fc.constant(str(model)), absent, fc.constant(str('')))),
      entry('system_fingerprint', fc.oneof(absent, fc.constant(str('fp_1')), fc.constant(tok('null')))),
      entry(
        'choices',
        mostly(
          w,
          choice(t, w).map((c) => arr(c)),
          fc.constant(arr()),
          fc.tuple(choice(t, w), choice(t, w)).map(([a, b]) => arr(a, b)),
          fc.constant(tok('null')),
          absent,
        ),
      ),
      entry('usage', mostly(w, fc.oneof(absent, fc.constant(tok('null'))), usageObj, oddValue)),
      entry('obfuscation', fc.oneof(absent, t.map(str))),
      entry('error', mostly(w, absent, fc.constant(tok('null')), fc.constant(obj(['message', str('boom')])))),
      entry('extra', mostly(w, absent, fc.constant(obj(['nested', tok('1')])), fc.constant(tok('true')))),
      // a duplicate of a key the translator reads: JSON.parse keeps the last one
      mostly<[string, Node] | undefined>(
        w,
        absent,
        fc.constant<[string, Node]>(['id', str('dup')]),
        fc.constant<[string, Node]>(['choices', arr()]),
      ),
    )
    .map((e) => obj(...e));
}

/** A frame around one JSON text, spelled as servers spell them (and some corrupted). */
const frame = (json: string) =>
  fc
    .tuple(
      mostly(
        10,
        fc.constant('plain'),
        fc.constantFrom('nospace', 'crlf', 'comment', 'event', 'twolines', 'spaces', 'tab'),
      ),
      mostly(
        12,
        fc.constant(undefined),
        fc.tuple(fc.nat(), fc.constantFrom('', '"', '\\', '}', ',', ' ', '\u0001', 'x', '1')),
      ),
      fc.nat(),
    )
    .map(([wrap, corrupt, cut]) => {
      let j = json;
      if (corrupt) {
        // delete or replace one character, or insert one: the frame may become invalid, or differently valid
        const at = corrupt[0] % (j.length + 1);
        j = j.slice(0, at) + corrupt[1] + j.slice(at + (corrupt[1] === '' || corrupt[0] % 2 ? 1 : 0));
      }
      const at = cut % (j.length + 1);
      switch (wrap) {
        case 'nospace':
          return `data:${j}\n\n`;
        case 'crlf':
          return `data: ${j}\r\n\r\n`;
        case 'comment':
          return `: keep-alive\ndata: ${j}\n\n`;
        case 'event':
          return `event: message\ndata: ${j}\n\n`;
        case 'twolines':
          return `data: ${j.slice(0, at)}\ndata: ${j.slice(at)}\n\n`;
        case 'spaces':
          return `data:  ${j} \n\n`;
        case 'tab':
          return `data: \t${j}\n\n`;
        default:
          return `data: ${j}\n\n`;
      }
    });

/** texts that recur in a stream (a chunk may repeat the one before it) */
const common = fc.constantFrom(' the', 'a', '\n', 'é', '\\');

/** Stands for a frame's own strings in a stream's base chunk (content, pad...), see fill. */
const MARK = '\u0000mark';

/** The base chunk with each MARK string replaced by the next of `texts`. */
function fill(n: Node, texts: string[]): Node {
  let i = 0;
  const walk = (x: Node): Node => {
    switch (x.t) {
      case 'str':
        return x.v === MARK ? str(texts[i++ % texts.length] as string) : x;
      case 'arr':
        return arr(...x.v.map(walk));
      case 'obj':
        return obj(...x.v.map(([k, v]): [string, Node] => [k, walk(v)]));
      default:
        return x;
    }
  };
  return walk(n);
}

const rarely = <T>(common: T, ...others: T[]) =>
  fc.oneof({ arbitrary: fc.constant(common), weight: 12 }, fc.constantFrom(...others));

/**
 * A stream: mostly chunks shaped like the stream's base chunk with their own strings (as real streams
 * are, so the template path is taken), some chunks of any shape, [DONE] here and there.
 */
const stream = fc
  .record({
    id: mostly(6, fc.constant('chatcmpl-abc123'), text),
    model: mostly(6, fc.constant('gpt-4o-mini'), text),
    created: fc.constantFrom('1760000000', '17', '0'),
    style: fc.record({
      space: mostly(6, fc.constant(false), fc.constant(true)),
      escape: mostly(6, fc.constant(false), fc.constant(true)),
    }),
  })
  .chain(({ id, model, created, style }) =>
    chunk(id, model, created, fc.constant(MARK), 40).chain((base) =>
      fc.tuple(
        fc.array(
          fc
            .oneof(
              {
                weight: 6,
                arbitrary: fc
                  .array(fc.oneof(text, common), { minLength: 6, maxLength: 6 })
                  .map((ts) => fill(base, ts)),
              },
              { weight: 1, arbitrary: chunk(id, model, created, text, 6) },
            )
            .chain((c) => mostly(12, frame(ser(c, style)), fc.constant('data: [DONE]\n\n'))),
          { minLength: 1, maxLength: 10 },
        ),
        fc.constantFrom('data: [DONE]\n\n', '', 'data: {"choices":[]', 'data: [DONE]'),
        rarely(
          Buffer.alloc(0),
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from([0xff]),
          Buffer.from([0xe4, 0xb8]),
        ),
        rarely(
          Buffer.alloc(0),
          Buffer.from([0xc3]),
          Buffer.from([0xe4, 0xb8]),
          Buffer.from([0xed, 0xa0, 0x80]),
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
      ),
    ),
  )
  .map(([frames, tail, head, junk, cuts]) => {
    // head: a BOM (dropped by the decoder) or stray bytes; junk: broken UTF-8 inside some frame's text
    let bytes = Buffer.concat([head, Buffer.from(frames.join('') + tail)]);
    if (junk.length > 0 && cuts.length > 0) {
      const at = (cuts[0] as number) % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
    }
    // upstream reads: split anywhere, including inside a multi-byte character or a CRLF
    const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let from = 0;
    for (const c of at) {
      pieces.push(bytes.subarray(from, c));
      from = c;
    }
    pieces.push(bytes.subarray(from));
    return pieces;
  });

// --- comparison ---------------------------------------------------------------------------------------

type Outcome = Array<unknown>;

/** Everything a stream translator tells the proxy, in order, up to its first error. */
function run(st: Pick<StreamTranslator, 'push' | 'end' | 'textChunk' | 'finish'>, pieces: Buffer[]): Outcome {
  const out: Outcome = [];
  try {
    for (const p of pieces) out.push(st.push(Buffer.from(p)));
    out.push(st.end());
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    out.push({ error: err.code, message: err.message });
  }
  // what Sluice writes when it cuts the answer short: built from the id/model/created seen so far
  out.push(st.textChunk('cut'), st.finish('length', { inputTokens: 3, outputTokens: 4 }));
  return out;
}

const provider = resolvedProvider('openai', { name: 'oa' });

describe('OpenAI stream translator: fast paths give exactly what the full parse gave', () => {
  beforeAll(() => {
    // both translators default `created` to the current second: freeze it
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-02T03:04:05Z'));
  });
  afterAll(() => {
    vi.useRealTimers();
  });

  it('for generated streams, adversarial text and splits included', () => {
    fc.assert(
      fc.property(
        stream,
        fc.boolean(),
        fc.constantFrom<ClientApi>('openai-chat', 'openai-completions'),
        (pieces, wantsUsage, clientApi) => {
          fc.pre(!refMisreadsBom(Buffer.concat(pieces)));
          const ctx = translateContext(provider, {
            model: 'client-model',
            stream: true,
            wantsUsage,
            clientApi,
          });
          const translator = openaiToOpenai.find((t) => t.clientApi === clientApi);
          if (!translator) throw new Error(clientApi);
          expect(run(translator.createStream(ctx), pieces)).toEqual(run(new RefOpenAIStream(ctx), pieces));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
