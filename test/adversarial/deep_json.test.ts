// Finding 9 of the adversarial review: JSON nested 200,000 levels deep got 500 SLUICE_ERR_INTERNAL
// and a RangeError stack in the error log (a recursive serialiser overflowed). Now a body nested
// deeper than MAX_JSON_DEPTH is a 400 in the client API's own error shape, before any translation,
// and the process logs no error. Driven through a real `sluice serve` process, raw HTTP for depths no
// SDK can serialise, and the official openai and Anthropic SDKs for the shapes they parse.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../../dataplane/src/api/request_guards.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 2 } }],
    routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

/** `depth` levels of arrays in `metadata`-like extra field, built as text. */
function deepArrays(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

async function post(path: string, body: string) {
  const res = await fetch(`${dp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('deeply nested JSON bodies', () => {
  it('200,000 levels on /v1/chat/completions: 400 in the OpenAI error shape, nothing logged as an error', async () => {
    const before = dp.logs.length;
    for (const nest of [deepArrays(200_000), `${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`]) {
      const r = await post(
        '/v1/chat/completions',
        `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":${nest}}`,
      );
      expect(r.status).toBe(400);
      expect(r.body).toEqual({
        error: {
          message: expect.stringContaining(`deeper than ${MAX_JSON_DEPTH} levels`),
          type: 'invalid_request_error',
          code: 'SLUICE_ERR_JSON_TOO_DEEP',
          param: null,
        },
      });
    }
    const since = dp.logs.slice(before).join('');
    expect(since).not.toMatch(/RangeError|"level":50|SLUICE_ERR_INTERNAL/);
    // still serving
    const ok = await post(
      '/v1/chat/completions',
      '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
    );
    expect(ok.status).toBe(200);
  });

  it('200,000 levels on /v1/messages: 400 in the Anthropic error shape', async () => {
    const r = await post(
      '/v1/messages',
      `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"metadata":${deepArrays(200_000)}}`,
    );
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('deeper than') },
    });
  });

  it('the official SDKs see a 400 they can read; a body at the limit is not refused for its depth', async () => {
    const nested = (depth: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < depth; i++) v = [v];
      return v;
    };
    const openai = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    const err = (await openai.chat.completions
      .create({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        tools: nested(MAX_JSON_DEPTH + 5) as never,
      })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.code).toBe('SLUICE_ERR_JSON_TOO_DEEP');

    const anthropic = new Anthropic({ baseURL: dp.url, apiKey: 'x', maxRetries: 0 });
    const aerr = (await anthropic.messages
      .create({
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'hi' }],
        metadata: nested(MAX_JSON_DEPTH + 5) as never,
      })
      .catch((e: unknown) => e)) as InstanceType<typeof Anthropic.BadRequestError>;
    expect(aerr).toBeInstanceOf(Anthropic.BadRequestError);
    expect(aerr.message).toContain('deeper than');

    // the body itself is 3 levels (root, messages, a message): the limit counts every level
    const atLimit = await post(
      '/v1/chat/completions',
      `{"model":"m","messages":[{"role":"user","content":"hi"}],"metadata":{"x":${deepArrays(MAX_JSON_DEPTH - 2)}}}`,
    );
    expect(atLimit.body).not.toMatchObject({ error: { code: 'SLUICE_ERR_JSON_TOO_DEEP' } });
  });
});
