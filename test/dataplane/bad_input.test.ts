// Bad input: each case gets the documented status, code and OpenAI error shape, and the process stays up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let dp: InProcessDataplane;

beforeAll(async () => {
  dp = await startDataplane({
    server: { bodyLimitBytes: 4096 },
    providers: [{ name: 'mock', type: 'mock' }],
    routes: [{ name: 'main', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
  });
});
afterAll(() => dp?.stop());

interface Case {
  name: string;
  method?: string;
  path?: string;
  contentType?: string;
  body: string;
  status: number;
  /** the body's code: OpenAI's code for the same problem, or Sluice's own where OpenAI has none */
  code: string;
  /** Sluice's own code, in the x-sluice-error-code header (defaults to `code`) */
  sluiceCode?: string;
  param?: string | null;
}

const msg = (content: unknown) => JSON.stringify({ model: 'm', messages: [{ role: 'user', content }] });

const cases: Case[] = [
  { name: 'malformed JSON', body: '{"model": "m",', status: 400, code: 'SLUICE_ERR_INVALID_JSON' },
  { name: 'empty body', body: '', status: 400, code: 'SLUICE_ERR_INVALID_JSON' },
  {
    name: 'body is an array',
    body: '[1,2]',
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
  },
  {
    name: 'missing model',
    body: '{"messages":[{"role":"user","content":"x"}]}',
    status: 400,
    code: 'missing_required_parameter',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'model',
  },
  {
    name: 'model not a string',
    body: '{"model":5,"messages":[{"role":"user","content":"x"}]}',
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'model',
  },
  {
    name: 'missing messages',
    body: '{"model":"m"}',
    status: 400,
    code: 'missing_required_parameter',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'messages',
  },
  {
    name: 'empty messages',
    body: '{"model":"m","messages":[]}',
    status: 400,
    code: 'empty_array',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'messages',
  },
  {
    name: 'bad role',
    body: '{"model":"m","messages":[{"role":"robot","content":"x"}]}',
    status: 400,
    code: 'invalid_value',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'messages[0].role',
  },
  {
    // String() of this object throws: it was a 500 (found by bad_input_fuzz)
    name: 'role that is an object',
    body: '{"model":"m","messages":[{"role":{"toString":0},"content":"x"}]}',
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'messages[0].role',
  },
  {
    name: 'content of wrong type',
    body: msg(42),
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'messages[0].content',
  },
  {
    name: 'stream not boolean',
    body: '{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}',
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'stream',
  },
  {
    name: 'temperature out of range',
    body: '{"model":"m","temperature":9,"messages":[{"role":"user","content":"x"}]}',
    status: 400,
    code: 'decimal_above_max_value',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'temperature',
  },
  {
    // bad in two fields: OpenAI names max_tokens first (as its recorded answers do)
    name: 'legacy completion with max_tokens and temperature out of range',
    path: '/v1/completions',
    body: '{"model":"m","prompt":"","max_tokens":-1,"temperature":3}',
    status: 400,
    code: 'integer_below_min_value',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'max_tokens',
  },
  {
    name: 'negative max_tokens',
    body: '{"model":"m","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}',
    status: 400,
    code: 'integer_below_min_value',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'max_tokens',
  },
  {
    name: 'unknown model',
    body: '{"model":"nope","messages":[{"role":"user","content":"x"}]}',
    status: 404,
    code: 'model_not_found',
    sluiceCode: 'SLUICE_ERR_UNKNOWN_MODEL',
    param: 'model',
  },
  { name: 'body too large', body: msg('x'.repeat(5000)), status: 413, code: 'SLUICE_ERR_BODY_TOO_LARGE' },
  {
    name: 'not JSON content type',
    contentType: 'text/plain',
    body: msg('x'),
    status: 415,
    code: 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
  },
  { name: 'unknown path', path: '/v1/nope', body: msg('x'), status: 404, code: 'SLUICE_ERR_NOT_FOUND' },
  { name: 'wrong method', method: 'GET', body: '', status: 405, code: 'SLUICE_ERR_METHOD_NOT_ALLOWED' },
  {
    name: 'embeddings without input',
    path: '/v1/embeddings',
    body: '{"model":"m"}',
    status: 400,
    code: 'missing_required_parameter',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'input',
  },
  {
    name: 'completions with numeric prompt',
    path: '/v1/completions',
    body: '{"model":"m","prompt":5}',
    status: 400,
    code: 'invalid_type',
    sluiceCode: 'SLUICE_ERR_INVALID_REQUEST',
    param: 'prompt',
  },
];

describe('bad input gets the documented error', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const method = c.method ?? 'POST';
      const res = await fetch(`${dp.url}${c.path ?? '/v1/chat/completions'}`, {
        method,
        headers: method === 'GET' ? {} : { 'content-type': c.contentType ?? 'application/json' },
        body: method === 'GET' ? undefined : c.body,
      });
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      const body = (await res.json()) as {
        error: { message: string; type: string; code: string; param: string | null };
      };
      expect(body.error.code).toBe(c.code);
      expect(res.headers.get('x-sluice-error-code')).toBe(c.sluiceCode ?? c.code);
      expect(typeof body.error.message).toBe('string');
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(typeof body.error.type).toBe('string');
      if (c.param !== undefined) expect(body.error.param).toBe(c.param);
    });
  }

  it('still answers normally after every bad request', async () => {
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: msg('hi'),
    });
    expect(res.status).toBe(200);
  });
});
