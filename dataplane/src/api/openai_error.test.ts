// The error body an OpenAI client gets: the provider's type passes as the string it is, whatever it
// says — also a name that a plain object lookup would find on Object.prototype.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { openaiErrorJSON } from './openai_error.ts';

const upstreamError = (type: string) =>
  new GatewayError('SLUICE_ERR_UPSTREAM_REJECTED', "provider 'p' answered 400: bad", {
    status: 400,
    upstream: { provider: 'p', status: 400, type, code: null, param: null },
  });

describe('openaiErrorJSON', () => {
  it('renames Anthropic-only types to what OpenAI calls them', () => {
    expect(JSON.parse(openaiErrorJSON(upstreamError('overloaded_error'))).error.type).toBe('server_error');
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'passes the type %s as a string',
    (type) => {
      expect(JSON.parse(openaiErrorJSON(upstreamError(type))).error.type).toBe(type);
    },
  );
});
