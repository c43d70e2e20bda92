import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { REDACTED, Redactor, redactLogValue } from './redactor.ts';
import { MIN_FRAGMENT } from './secret_matcher.ts';

const OPENAI_KEY = 'sk-proj-Zt8qL2vX9mN4bR7kW1pY6cJ3hF5dG0aS';
const AZURE_KEY = '9f3b2c7d1e8a4b6c0d5e2f7a1b3c8d9e'; // 32 hex chars, no recognisable prefix
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function redactor(extra: Record<string, string[]> = {}): Redactor {
  return new Redactor({
    providers: new Map([
      ['openai', [OPENAI_KEY]],
      ['azure', [AZURE_KEY]],
      ['bedrock', ['AKIAIOSFODNN7EXAMPLE', AWS_SECRET]],
      ...Object.entries(extra),
    ]),
    other: ['redis-password-1234'],
  });
}

describe('Redactor: configured secrets', () => {
  const r = redactor();

  it('removes a whole secret, wherever it is', () => {
    expect(r.redact(`Incorrect API key provided: ${AZURE_KEY}.`)).toBe(
      `Incorrect API key provided: ${REDACTED}.`,
    );
    expect(r.redact(`${AZURE_KEY}${AZURE_KEY}`)).toBe(REDACTED);
    expect(r.redact(`key=${AZURE_KEY}&x=1`)).not.toContain(AZURE_KEY.slice(0, MIN_FRAGMENT));
  });

  it('removes pieces of a secret as short as MIN_FRAGMENT (a prefix, a suffix, the middle)', () => {
    for (const piece of [AZURE_KEY.slice(0, 10), AZURE_KEY.slice(-MIN_FRAGMENT), AZURE_KEY.slice(7, 19)]) {
      const out = r.redact(`the key starting ${piece} is wrong`);
      expect(out).toBe(`the key starting ${REDACTED} is wrong`);
    }
    // shorter than MIN_FRAGMENT: occurs in ordinary text by chance, left alone
    expect(r.redact(`hex ${AZURE_KEY.slice(0, MIN_FRAGMENT - 1)} here`)).toContain(
      AZURE_KEY.slice(0, MIN_FRAGMENT - 1),
    );
  });

  it('removes the encoded forms an upstream may echo: JSON-escaped, URL-encoded, base64', () => {
    const tricky = 'p@ss/"word"+12345';
    const rt = new Redactor({ providers: new Map([['x', [tricky]]]), other: [] });
    expect(rt.redact(JSON.stringify({ k: tricky }))).toBe(`{"k":"${REDACTED}"}`);
    expect(rt.redact(`q=${encodeURIComponent(tricky)}`)).toBe(`q=${REDACTED}`);
    expect(rt.redact(`basic ${Buffer.from(tricky).toString('base64')}`)).not.toContain(
      Buffer.from(tricky).toString('base64').slice(0, 12),
    );
  });

  it('removes secrets that are not provider keys (Redis password, JWT secret)', () => {
    expect(r.redact('auth failed for redis-password-1234')).toBe(`auth failed for ${REDACTED}`);
  });

  it('leaves ordinary provider messages as they are', () => {
    for (const msg of [
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
      'The model `gpt-4.1-nano-wrong` does not exist or you do not have access to it.',
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages: roles must alternate between "user" and "assistant"',
      'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000',
      'basic validation failed; token limit exceeded',
    ]) {
      expect(r.redact(msg)).toBe(msg);
    }
  });
});

describe('Redactor: key shapes it was never given', () => {
  const r = new Redactor();
  const shapes = [
    'sk-proj-abcdefghijklmnopqrstuvwxyz012345',
    'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
    'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW',
    'AKIAIOSFODNN7EXAMPLE',
    'ASIAIOSFODNN7EXAMPLE',
    'xai-abcdefghijklmnopqrstuvwx',
    'gsk_abcdefghijklmnopqrstuvwx',
    'hf_abcdefghijklmnopqrstuvwx',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  ];
  for (const key of shapes) {
    it(`removes ${key.slice(0, 6)}...`, () => {
      expect(r.redact(`Incorrect API key provided: ${key}. See docs.`)).toBe(
        `Incorrect API key provided: ${REDACTED}. See docs.`,
      );
    });
  }

  it('removes what follows Bearer and credential labels', () => {
    expect(r.redact('header was Authorization: Bearer abc.def-123456789')).toBe(
      `header was Authorization: Bearer ${REDACTED}`,
    );
    expect(r.redact('{"api_key": "qwertyuiop12345"}')).toBe(`{"api_key": "${REDACTED}"}`);
    expect(r.redact('password=hunter2hunter2 rejected')).toBe(`password=${REDACTED} rejected`);
  });

  it('finds a key after a slash or inside a URL', () => {
    expect(r.redact('GET /v1/models?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW')).not.toContain('AIza');
    expect(r.redact('path/sk-proj-abcdefghijklmnopqrstuvwxyz012345')).toBe(`path/${REDACTED}`);
  });
});

describe('Redactor: errors', () => {
  it('redacts the message and the provider fields, keeping what is identifier-shaped and clean', () => {
    const r = redactor();
    const err = new GatewayError(
      'SLUICE_ERR_UPSTREAM_REJECTED',
      `provider 'azure' answered 401: bad key ${AZURE_KEY}`,
      {
        status: 401,
        upstream: {
          provider: 'azure',
          status: 401,
          type: 'invalid_request_error',
          code: AZURE_KEY,
          param: 'messages[0].content',
        },
      },
    );
    const shown = r.scrubError(err);
    expect(shown.message).toBe(`provider 'azure' answered 401: bad key ${REDACTED}`);
    expect(shown.toJSON().error).toEqual({
      message: shown.message,
      type: 'invalid_request_error',
      code: null,
      param: 'messages[0].content',
    });
    expect([shown.status, shown.code]).toEqual([401, 'SLUICE_ERR_UPSTREAM_REJECTED']);
  });

  it('withholds the message of a provider whose credential is too short to recognise in pieces', () => {
    const r = redactor({ ollama: ['abc12'] });
    expect(r.withheld.has('ollama')).toBe(true);
    const err = new GatewayError(
      'SLUICE_ERR_UPSTREAM_REJECTED',
      "provider 'ollama' answered 401: key abc1 is wrong",
      {
        status: 401,
        upstream: { provider: 'ollama', status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
      },
    );
    const shown = r.scrubError(err);
    expect(shown.message).not.toContain('abc1');
    expect(shown.message).toContain('withheld');
    expect(shown.toJSON().error.code).toBe('invalid_api_key');
    // the whole short value is still redacted anywhere else
    expect(r.redact('the value abc12 leaked')).toBe(`the value ${REDACTED} leaked`);
  });

  it('returns the same error when there is nothing to remove', () => {
    const err = new GatewayError('SLUICE_ERR_RATE_LIMITED', 'limit reached', { param: 'requests' });
    expect(redactor().scrubError(err)).toBe(err);
  });

  it('redacts log values: strings, errors with their causes, nested objects', () => {
    const r = redactor();
    const cause = new SyntaxError(`Unexpected token 's', "${OPENAI_KEY.slice(0, 10)}"... is not valid JSON`);
    const logged = redactLogValue({ err: new Error('upstream failed', { cause }), note: [AZURE_KEY] }, r);
    expect(JSON.stringify(logged)).not.toContain(OPENAI_KEY.slice(0, 10));
    expect(JSON.stringify(logged)).not.toContain(AZURE_KEY);
    expect(JSON.stringify(logged)).toContain('upstream failed');
  });
});

describe('Redactor: linear time', () => {
  it('scans hostile text in time proportional to its length (ratio, not a wall-clock bound)', () => {
    const many = Array.from({ length: 200 }, (_, i) => `secret-${i}-${'a'.repeat(40)}b`);
    const r = new Redactor({ providers: new Map([['p', many]]), other: [] });
    // runs that nearly match a secret, prefixes that nearly make a key, separators everywhere
    const unit = `${'a'.repeat(39)}c sk-${'x'.repeat(12)} eyJ${'a'.repeat(30)} Bearer  / a/a/a/a+a=`;
    const time = (n: number) => {
      const text = unit.repeat(n);
      const t0 = performance.now();
      for (let k = 0; k < 3; k++) r.redact(text);
      return performance.now() - t0;
    };
    time(100); // warm up the JIT
    const small = time(300);
    const big = time(3_000);
    // 10x the text: linear is ~10x; quadratic would be ~100x. Generous for a shared CPU.
    expect(big / small).toBeLessThan(40);
  });
});
