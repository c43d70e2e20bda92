// An answer of the wrong shape is the provider's fault: every translator the core can find reads it
// into a 502 SLUICE_ERR_UPSTREAM_ERROR, not a TypeError (a 500, or "connection failed" mid-stream).
// The properties over every pair and wire format are in translators/hostile_upstream.test.ts.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../test/helpers/provider_context.ts';
import { GatewayError } from '../errors.ts';
import { findTranslator } from './registry.ts';

const claude = resolvedProvider('anthropic', { credentials: { apiKey: 'sk-ant-test-1234567' }, name: 'cl' });
const gemini = resolvedProvider('gemini', { credentials: { apiKey: 'AIzaTestKey1234567' }, name: 'ge' });

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const upstreamError = {
  code: 'SLUICE_ERR_UPSTREAM_ERROR',
  status: 502,
  message: expect.stringContaining("provider 'cl'"),
};

describe('translators found by the core read a misshapen answer as the upstream failing', () => {
  it('a whole answer whose fields have the wrong types', () => {
    const t = findTranslator('openai-chat', 'anthropic');
    const ctx = translateContext(claude, { model: 'm' });
    for (const body of ['null', '{"content":5,"usage":{}}', '{"type":"message","content":[null]}']) {
      const err = thrown(() => t?.parseResponse(Buffer.from(body), ctx));
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject(upstreamError);
    }
  });

  it('a stream event that is null, at the first read or later', () => {
    const t = findTranslator('openai-chat', 'anthropic');
    const st = t?.createStream(translateContext(claude, { model: 'm', stream: true }));
    const err = thrown(() => st?.push(Buffer.from('event: message_start\ndata: null\n\n')));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject(upstreamError);
  });

  it('an error body whose message is not text: the status, and no field that is not a string', () => {
    const t = findTranslator('openai-chat', 'gemini');
    const body = JSON.stringify({ error: { message: { nested: 1 }, status: 7 } });
    const info = t?.parseError(400, Buffer.from(body), translateContext(gemini));
    expect(info).toEqual({ message: 'HTTP 400', type: 'invalid_request_error', code: null, param: null });
  });
});

describe('a stream event whose text is not text', () => {
  it('is an answer of an unexpected shape, not text for the core to count', () => {
    const t = findTranslator('openai-chat', 'openai');
    const openai = resolvedProvider('openai', { credentials: { apiKey: 'sk-test-key-1234567' }, name: 'cl' });
    const st = t?.createStream(translateContext(openai, { model: 'm', stream: true }));
    const chunk = {
      id: 'c',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { content: { a: 1 } } }],
    };
    const err = thrown(() => st?.push(Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`)));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject(upstreamError);
  });
});
