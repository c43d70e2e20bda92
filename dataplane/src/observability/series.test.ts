// The request-path metric families must expose exactly what prom-client's own metrics expose for the
// same updates, so dashboards, alerts and the HPA adapter read them unchanged.
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, HistogramFamily, LevelGauge } from './series.ts';

const BUCKETS = [0.005, 0.1, 1, 30];
const LABELS = ['route', 'code'] as const;
const value = fc.constantFrom('a', 'b', 'chat "x"', 'back\\slash', 'line\nbreak', '');

describe('series families', () => {
  it('expose the same text as prom-client for any sequence of updates', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            route: value,
            code: value,
            n: fc.double({ min: 0, max: 1e6, noNaN: true }),
            v: fc.oneof(fc.double({ min: -1, max: 100, noNaN: true }), fc.constantFrom(...BUCKETS)),
            up: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        async (updates) => {
          const ours = new Registry();
          const theirs = new Registry();
          const c1 = new CounterFamily({ name: 'c_total', help: 'c', labelNames: LABELS, registers: [ours] });
          const h1 = new HistogramFamily({
            name: 'h',
            help: 'h',
            labelNames: LABELS,
            buckets: BUCKETS,
            registers: [ours],
          });
          const g1 = new LevelGauge({ name: 'g', help: 'g', registers: [ours] });
          const c2 = new Counter({ name: 'c_total', help: 'c', labelNames: LABELS, registers: [theirs] });
          const h2 = new Histogram({
            name: 'h',
            help: 'h',
            labelNames: LABELS,
            buckets: BUCKETS,
            registers: [theirs],
          });
          const g2 = new Gauge({ name: 'g', help: 'g', registers: [theirs] });
          for (const u of updates) {
            c1.inc(u.n, u.route, u.code);
            c2.inc({ route: u.route, code: u.code }, u.n);
            h1.observe(u.v, u.route, u.code);
            h2.observe({ route: u.route, code: u.code }, u.v);
            if (u.up) {
              g1.inc();
              g2.inc();
            } else {
              g1.dec();
              g2.dec();
            }
          }
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuse what prom-client refuses: non-finite values, decreasing counters, missing labels', () => {
    const r = new Registry();
    const c = new CounterFamily({ name: 'c', help: 'c', labelNames: LABELS, registers: [r] });
    const h = new HistogramFamily({
      name: 'h',
      help: 'h',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers: [r],
    });
    expect(() => c.inc(Number.NaN, 'a', 'b')).toThrow(/not a valid number/);
    expect(() => c.inc(-1, 'a', 'b')).toThrow(/decrease/);
    expect(() => h.observe(Number.POSITIVE_INFINITY, 'a', 'b')).toThrow(/not a valid number/);
    expect(() => c.inc(1, 'a')).toThrow(/label "code" has no value/);
  });

  it('keep label sets apart even when values could be concatenated alike', async () => {
    const r = new Registry();
    const c = new CounterFamily({ name: 'c', help: 'c', labelNames: LABELS, registers: [r] });
    c.inc(1, 'ab', 'c');
    c.inc(2, 'a', 'bc');
    const text = await r.metrics();
    expect(text).toContain('c{route="ab",code="c"} 1');
    expect(text).toContain('c{route="a",code="bc"} 2');
  });

  it('match prom-client with one and with four labels, and start over after reset', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(value, value, value, value, fc.nat(1000)), { maxLength: 30 }),
        async (updates) => {
          const ours = new Registry();
          const theirs = new Registry();
          const FOUR = ['route', 'provider', 'model', 'outcome'] as const;
          const one1 = new CounterFamily({
            name: 'one',
            help: 'o',
            labelNames: ['route'],
            registers: [ours],
          });
          const four1 = new CounterFamily({ name: 'four', help: 'f', labelNames: FOUR, registers: [ours] });
          const one2 = new Counter({ name: 'one', help: 'o', labelNames: ['route'], registers: [theirs] });
          const four2 = new Counter({ name: 'four', help: 'f', labelNames: FOUR, registers: [theirs] });
          const apply = () => {
            for (const [a, b, c, d, n] of updates) {
              one1.inc(n, a);
              one2.inc({ route: a }, n);
              four1.inc(n, a, b, c, d);
              four2.inc({ route: a, provider: b, model: c, outcome: d }, n);
            }
          };
          apply();
          expect(await ours.metrics()).toBe(await theirs.metrics());
          one1.reset();
          four1.reset();
          one2.reset();
          four2.reset();
          apply();
          expect(await ours.metrics()).toBe(await theirs.metrics());
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('removeWhere', () => {
  it('drops the picked series and keeps counting the others in the same series', () => {
    const c = new CounterFamily({ name: 'r_total', help: 'r', labelNames: LABELS, registers: [] });
    c.inc(1, 'warm', '200');
    c.inc(2, 'real', '200');
    c.inc(3, 'real', '500');
    c.removeWhere((l) => l.route === 'warm');
    expect(c.get().values.map((v) => [v.labels.route, v.labels.code, v.value])).toEqual([
      ['real', '200', 2],
      ['real', '500', 3],
    ]);
    c.inc(1, 'real', '200');
    c.inc(1, 'warm', '200');
    expect(c.get().values.map((v) => [v.labels.route, v.labels.code, v.value])).toEqual([
      ['real', '200', 3],
      ['real', '500', 3],
      ['warm', '200', 1],
    ]);
  });

  it('never counts into a dropped series through the last-used memo', () => {
    const c = new CounterFamily({ name: 'm_total', help: 'm', labelNames: LABELS, registers: [] });
    c.inc(5, 'warm', '200');
    // the memo now holds ('warm','200'): dropping it must not leave the next update counting there
    c.removeWhere((l) => l.route === 'warm');
    c.inc(1, 'warm', '200');
    c.inc(1, 'warm', '200');
    expect(c.get().values.map((v) => [v.labels.route, v.labels.code, v.value])).toEqual([['warm', '200', 2]]);
    c.reset();
    c.inc(7, 'warm', '200');
    expect(c.get().values.map((v) => v.value)).toEqual([7]);
  });

  it('keeps alternating label sets apart (the two remembered ones and a third)', () => {
    const c = new CounterFamily({ name: 'a_total', help: 'a', labelNames: LABELS, registers: [] });
    for (let i = 0; i < 5; i++) {
      c.inc(1, 'r', 'input');
      c.inc(2, 'r', 'output');
      if (i % 2 === 0) c.inc(10, 'r', 'cached');
    }
    expect(c.get().values.map((v) => [v.labels.code, v.value])).toEqual([
      ['input', 5],
      ['output', 10],
      ['cached', 30],
    ]);
  });
});
