import { describe, expect, it } from 'vitest';
import { newRequestId } from './request_id.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newRequestId', () => {
  it('gives RFC 9562 version-4 UUIDs, unique across several refills of the random pool', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const id = newRequestId();
      expect(id).toMatch(UUID_V4);
      seen.add(id);
    }
    expect(seen.size).toBe(3000);
  });

  it('returns a string of its own: the next id does not change the one before', () => {
    const a = newRequestId();
    const copy = `${a}`;
    newRequestId();
    expect(a).toBe(copy);
  });

  it('is random, not a counter: every hex digit outside the fixed bits varies', () => {
    const ids = Array.from({ length: 2000 }, newRequestId);
    for (let at = 0; at < 36; at++) {
      if (at === 8 || at === 13 || at === 18 || at === 23 || at === 14 || at === 19) continue;
      const digits = new Set(ids.map((id) => id[at]));
      // 2,000 random draws of 16 digits: all 16 show up unless the position is not random
      expect(digits.size, `position ${at}`).toBe(16);
    }
  });
});
