import { describe, expect, it } from 'vitest';
import { shownValue } from './validate.ts';

describe('shownValue', () => {
  it('shows primitives as they are, cut to 64 characters', () => {
    expect(shownValue('robot')).toBe('robot');
    expect(shownValue(5)).toBe('5');
    expect(shownValue(false)).toBe('false');
    expect(shownValue('x'.repeat(1000))).toBe('x'.repeat(64));
  });

  it('names objects and arrays by their JSON type, even ones String() cannot convert', () => {
    // String() of this object throws "Cannot convert object to primitive value"
    expect(() => String({ toString: 0 })).toThrow(TypeError);
    expect(shownValue({ toString: 0 })).toBe('an object');
    expect(shownValue([1, 2])).toBe('an array');
    expect(shownValue(null)).toBe('null');
  });
});
