// The error table in docs/errors.md is the user's reference: it must list exactly the codes the
// gateway can return, with the same status and type.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, GatewayError } from './errors.ts';

describe('error catalogue', () => {
  it('docs/errors.md lists every code with its status and type', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\|\s*`(SLUICE_ERR_\w+)`\s*\|\s*(\d{3})\s*\|\s*`(\w+)`\s*\|/gm)].map(
      (m) => [m[1], Number(m[2]), m[3]],
    );
    const expected = Object.entries(ERRORS).map(([code, e]) => [code, e.status, e.type]);
    expect(rows).toEqual(expected);
  });

  it('serialises to the OpenAI error shape', () => {
    const e = new GatewayError('SLUICE_ERR_INVALID_REQUEST', "'model' is required", { param: 'model' });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      error: {
        message: "'model' is required",
        type: 'invalid_request_error',
        code: 'SLUICE_ERR_INVALID_REQUEST',
        param: 'model',
      },
    });
    expect(e.status).toBe(400);
  });
});
