// Every translator against a hostile or broken upstream, as properties (fast-check, random seed; a
// failure prints it): whatever a provider answers — any field of its documented answer replaced by a
// value of the wrong type or removed, the body not JSON, a stream cut short or split at any byte (mid
// line, mid character, CRLF or LF) — parseResponse and the stream translator either translate it or
// throw a documented upstream GatewayError (never a TypeError, which the core turns into a 500), and
// any usage they report is a non-negative safe integer count (never NaN, a string or 1e308 charged to a
// tenant). A valid stream gives the same client bytes however it is split.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cuts,
  frameStream,
  type Json,
  mutate,
  mutation,
  STREAM,
  splitAt,
  WHOLE,
  type WireName,
} from '../../../../test/fakes/upstream_wire_samples.ts';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type {
  BackendApi,
  ClientApi,
  ResolvedProvider,
  StreamEvent,
  TranslateContext,
  Translator,
  Usage,
} from '../types.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
/** FUZZ_SEED (and FUZZ_PATH) replay a failure fast-check printed */
const REPLAY = process.env.FUZZ_SEED
  ? { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH, endOnFailure: true }
  : {};

const PROVIDERS: Record<BackendApi, ResolvedProvider> = {
  openai: resolvedProvider('openai', {
    credentials: { apiKey: 'sk-test-upstream-secret-7f3a9' },
    name: 'oa',
  }),
  anthropic: resolvedProvider('anthropic', { credentials: { apiKey: 'sk-ant-test-1234567' }, name: 'an' }),
  gemini: resolvedProvider('gemini', { credentials: { apiKey: 'AIzaTestKey1234567' }, name: 'ge' }),
  bedrock: resolvedProvider('bedrock', {
    region: 'us-west-2',
    credentials: { accessKeyId: 'AKIATESTKEY12345', secretAccessKey: 'secret-test-key-123456' },
    name: 'br',
  }),
};

const REQUESTS: Record<ClientApi, Record<string, unknown>> = {
  'openai-chat': {
    model: 'm',
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
  },
  'openai-completions': { model: 'm', prompt: 'hi' },
  'openai-embeddings': { model: 'm', input: 'hi' },
  'anthropic-messages': {
    model: 'm',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ name: 'f', input_schema: { type: 'object' } }],
  },
  'openai-responses': {
    model: 'm',
    input: 'hi',
    tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
  },
};

/** [client API, backend, the backend's wire format] for every registered pair */
const PAIRS: Array<[ClientApi, BackendApi, WireName]> = [
  ['openai-chat', 'openai', 'openai-chat'],
  ['openai-completions', 'openai', 'openai-completions'],
  ['openai-embeddings', 'openai', 'openai-embeddings'],
  ['openai-chat', 'anthropic', 'anthropic'],
  ['openai-chat', 'gemini', 'gemini'],
  ['openai-embeddings', 'gemini', 'gemini-embeddings'],
  ['openai-chat', 'bedrock', 'bedrock'],
  ['anthropic-messages', 'anthropic', 'anthropic'],
  ['anthropic-messages', 'openai', 'openai-chat'],
  ['anthropic-messages', 'gemini', 'gemini'],
  ['anthropic-messages', 'bedrock', 'bedrock'],
  // OpenAI serves the Responses API itself; the others go through their chat translator
  ['openai-responses', 'openai', 'openai-responses'],
  ['openai-responses', 'anthropic', 'anthropic'],
  ['openai-responses', 'gemini', 'gemini'],
  ['openai-responses', 'bedrock', 'bedrock'],
];

async function prepared(client: ClientApi, backend: BackendApi, stream: boolean) {
  const t = findTranslator(client, backend);
  if (!t) throw new Error(`no translator ${client}->${backend}`);
  const ctx: TranslateContext = {
    ...translateContext(PROVIDERS[backend], { clientApi: client, stream, wantsUsage: true, model: 'm' }),
  };
  await t.buildRequest(structuredClone({ ...REQUESTS[client], stream }), ctx);
  return { t, ctx };
}

/** A count Sluice may charge: a non-negative safe integer. */
function expectSaneUsage(u: Usage | undefined): void {
  if (!u) return;
  for (const [k, v] of Object.entries(u)) {
    if (k === 'estimated') continue;
    expect(Number.isSafeInteger(v) && (v as number) >= 0, `usage.${k} = ${String(v)}`).toBe(true);
  }
}

/** The only thrown thing allowed: a documented upstream error (5xx, never the blanket 500). */
function expectUpstreamError(err: unknown): void {
  if (!(err instanceof GatewayError)) throw err;
  expect(err.code).not.toBe('SLUICE_ERR_INTERNAL');
  expect(err.status, err.message).toBeGreaterThanOrEqual(500);
}

/**
 * What a client of this API can read: every frame's data is JSON of the API's shape (an OpenAI chunk
 * or error object, `[DONE]`; an Anthropic or Responses event whose `type` its `event:` names). A
 * backend speaking the client's own API is passed through frame by frame (byte-exact, by design): its
 * frames are only checked to be JSON, since their shape is the provider's own answer.
 */
function expectClientFrames(client: ClientApi, out: string, passthrough: boolean): void {
  for (const f of new SseParser().push(out)) {
    if (f.data === '[DONE]' && (client === 'openai-chat' || client === 'openai-completions')) continue;
    const data = JSON.parse(f.data) as unknown;
    if (passthrough) continue;
    expect(data !== null && typeof data === 'object' && !Array.isArray(data), f.raw).toBe(true);
    const o = data as Record<string, unknown>;
    if (client === 'openai-chat' || client === 'openai-completions')
      expect(Array.isArray(o.choices) || (typeof o.error === 'object' && o.error !== null), f.raw).toBe(true);
    else {
      expect(typeof o.type, f.raw).toBe('string');
      if (f.event !== undefined) expect(o.type, f.raw).toBe(f.event);
    }
  }
}

/** Same API on both sides: OpenAI chat/completions on OpenAI, Anthropic on Anthropic, native Responses. */
const passesThrough = (client: ClientApi, backend: BackendApi) =>
  (backend === 'openai' && client !== 'anthropic-messages') ||
  (backend === 'anthropic' && client === 'anthropic-messages');

function drive(t: Translator, ctx: TranslateContext, reads: Buffer[]): string {
  const passthrough = passesThrough(ctx.clientApi, t.backendApi);
  const st = t.createStream(ctx);
  const events: StreamEvent[] = [];
  try {
    for (const r of reads) events.push(...st.push(r));
    events.push(...st.end());
  } catch (err) {
    expectUpstreamError(err);
    // what the core then writes: the API's documented mid-stream error event
    expectClientFrames(ctx.clientApi, st.errorEvent(err as GatewayError), false);
    throw err;
  } finally {
    for (const e of events) {
      expect(typeof e.data === 'string' || Buffer.isBuffer(e.data)).toBe(true);
      // the core counts and caps this text: a string or nothing
      expect(e.text === undefined || typeof e.text === 'string', `text ${String(e.text)}`).toBe(true);
      expectSaneUsage(e.usage);
    }
    expectClientFrames(ctx.clientApi, events.map((e) => e.data.toString()).join(''), passthrough);
  }
  return events.map((e) => e.data.toString()).join('');
}

/** What differs between two runs of the same stream: the clock and the ids Sluice makes up. */
function normalized(s: string): string {
  const ids = new Map<string, string>();
  return s
    .replace(/"(created|created_at|completed_at)":\d+/g, '"$1":0')
    .replace(/\b(call|resp|msg|fc|rs|toolu)_[A-Za-z0-9_-]{8,}/g, (id) => {
      if (!ids.has(id)) ids.set(id, `id${ids.size}`);
      return ids.get(id) as string;
    });
}

/** Event names an upstream may send in the wrong place (SSE `event:`, Bedrock `:event-type`). */
const EVENT_NAMES = [
  'error',
  'message_stop',
  'message_start',
  'content_block_delta',
  'response.completed',
  'response.failed',
  'messageStop',
  'metadata',
  'internalServerException',
  'throttlingException',
  '__proto__',
  'constructor',
  '',
];

const ERROR_BODIES: Record<BackendApi, Json> = {
  openai: {
    error: {
      message: 'bad key sk-test-upstream-secret-7f3a9',
      type: 'invalid_request_error',
      code: 'x',
      param: null,
    },
  },
  anthropic: { type: 'error', error: { type: 'invalid_request_error', message: 'bad' }, request_id: 'req_1' },
  gemini: { error: { code: 400, message: 'bad', status: 'INVALID_ARGUMENT', details: [] } },
  bedrock: { message: 'bad' },
};

/** A whole answer is translated into JSON with a sane usage, or refused as a documented upstream error. */
function expectWholeAnswer(t: Translator, ctx: TranslateContext, body: Buffer): void {
  try {
    const r = t.parseResponse(body, ctx);
    expect(() => JSON.parse(r.body.toString())).not.toThrow();
    expectSaneUsage(r.usage);
  } catch (err) {
    expectUpstreamError(err);
  }
}

describe.each(PAIRS)('%s client, %s backend (%s wire)', (client, backend, wire) => {
  it('a whole answer with fields of the wrong type or missing: translated or a documented 5xx, sane usage', async () => {
    const { t, ctx } = await prepared(client, backend, false);
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        expectWholeAnswer(t, ctx, Buffer.from(JSON.stringify(mutate(WHOLE[wire], muts))));
      }),
      { numRuns: RUNS * 4, ...REPLAY },
    );
  });

  it('a whole answer that is not JSON, cut short, or empty: a documented 5xx', async () => {
    const { t, ctx } = await prepared(client, backend, false);
    const valid = Buffer.from(JSON.stringify(WHOLE[wire]));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.nat({ max: valid.length - 1 }).map((n) => valid.subarray(0, n)),
          fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
          fc.constantFrom('', 'null', '[]', '"x"', '0', 'true', '{}', '\ufeff{}').map((s) => Buffer.from(s)),
        ),
        (body) => expectWholeAnswer(t, ctx, body),
      ),
      { numRuns: RUNS, ...REPLAY },
    );
  });

  it('an error body of any shape: a message string and identifier fields, never a throw', async () => {
    const { t, ctx } = await prepared(client, backend, false);
    fc.assert(
      fc.property(
        fc.constantFrom(400, 401, 404, 429, 500, 503),
        fc.oneof(
          fc
            .array(mutation, { minLength: 1, maxLength: 4 })
            .map((m) => JSON.stringify(mutate(ERROR_BODIES[backend], m))),
          fc.string({ maxLength: 40 }),
        ),
        (status, body) => {
          const info = t.parseError(status, Buffer.from(body), ctx);
          expect(typeof info.message).toBe('string');
          for (const f of [info.type, info.code, info.param])
            expect(f === undefined || f === null || typeof f === 'string', String(f)).toBe(true);
        },
      ),
      { numRuns: RUNS, ...REPLAY },
    );
  });

  const events = STREAM[wire];
  if (!events) return;

  it('a valid stream gives the same client bytes at any split, LF or CRLF', async () => {
    await fc.assert(
      fc.asyncProperty(cuts, fc.boolean(), async (points, crlf) => {
        const bytes = frameStream(wire, events, crlf);
        const whole = await prepared(client, backend, true);
        const split = await prepared(client, backend, true);
        const once = drive(whole.t, whole.ctx, [bytes]);
        const [got, want] = [normalized(drive(split.t, split.ctx, splitAt(bytes, points))), normalized(once)];
        if (got !== want) {
          let at = 0;
          while (got[at] === want[at]) at++;
          expect(got.slice(at - 100, at + 200), 'the first difference').toBe(want.slice(at - 100, at + 200));
        }
        expect(once.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS, ...REPLAY },
    );
  });

  it('a stream with broken events, cut anywhere, split anywhere: events or a documented 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 })), { maxLength: 3 }),
        fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
        cuts,
        fc.boolean(),
        // an event renamed: to another of its format's, to an error, or to nothing known
        fc.option(fc.tuple(fc.nat(), fc.constantFrom(...EVENT_NAMES)), { nil: undefined }),
        async (broken, cutAt, points, crlf, renamed) => {
          const evs = events.map((e) => ({ ...e }));
          for (const [i, muts] of broken) {
            const e = evs[i % evs.length] as (typeof evs)[number];
            e.data = mutate(e.data, muts);
          }
          if (renamed) (evs[renamed[0] % evs.length] as (typeof evs)[number]).event = renamed[1];
          let bytes = frameStream(wire, evs, crlf);
          if (cutAt !== undefined) bytes = bytes.subarray(0, cutAt % bytes.length);
          const { t, ctx } = await prepared(client, backend, true);
          try {
            drive(t, ctx, splitAt(bytes, points));
          } catch (err) {
            expectUpstreamError(err);
          }
        },
      ),
      { numRuns: RUNS * 2, ...REPLAY },
    );
  });
});
