// Metric families for the request path. prom-client hashes the label object of every inc/observe
// (validate, sort, join) and allocates a closure per observation: about ten updates per request were
// ~5% of a request's CPU in the bench profile. These keep each label set's numbers in one object found
// by a string key, and hand prom-client's registry the same values at scrape time, so the exposition
// text is exactly what prom-client's own Counter/Histogram/Gauge would write (tested).
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;
interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

interface FamilyOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

/** Label values in labelNames order; undefined is not allowed (prom-client would throw too). */
type Values = readonly [string?, string?, string?, string?, string?, string?];

abstract class Family<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';
  abstract readonly type: string;
  protected readonly series = new Map<string, S>();

  constructor(opts: FamilyOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers)
      r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract create(labels: Labels): S;

  /** The series of one label set, created on first use. */
  protected at(values: Values): S {
    // \u0001 cannot appear in a label value we write (config names and fixed words)
    let key = values[0] ?? '';
    for (let i = 1; i < this.labelNames.length; i++) key += `\u0001${values[i]}`;
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => {
        const v = values[i];
        if (typeof v !== 'string') throw new Error(`metric ${this.name}: label "${n}" has no value`);
        labels[n] = v;
      });
      s = this.create(labels);
      this.series.set(key, s);
    }
    return s;
  }

  abstract get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string };

  reset(): void {
    this.series.clear();
  }
}

function finite(name: string, n: number): void {
  if (!Number.isFinite(n)) throw new TypeError(`metric ${name}: value is not a valid number: ${n}`);
}

interface CounterSeries {
  labels: Labels;
  value: number;
}

export class CounterFamily<L extends string> extends Family<L, CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Labels): CounterSeries {
    return { labels, value: 0 };
  }

  inc(n: number, ...values: Values): void {
    finite(this.name, n);
    if (n < 0) throw new Error(`metric ${this.name}: it is not possible to decrease a counter`);
    this.at(values).value += n;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) values.push({ value: s.value, labels: s.labels });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

interface HistogramSeries {
  labels: Labels;
  /** observations per bucket (not cumulative); the last slot is +Inf */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class HistogramFamily<L extends string> extends Family<L, HistogramSeries> {
  readonly type = 'histogram';
  readonly #buckets: readonly number[];

  constructor(opts: FamilyOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    this.#buckets = opts.buckets;
  }

  protected create(labels: Labels): HistogramSeries {
    return { labels, counts: new Float64Array(this.#buckets.length + 1), sum: 0, count: 0 };
  }

  observe(v: number, ...values: Values): void {
    finite(this.name, v);
    const s = this.at(values);
    const b = this.#buckets;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    (s.counts[i] as number) += 1;
    s.sum += v;
    s.count += 1;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.#buckets.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.#buckets.length ? String(this.#buckets[i]) : '+Inf';
        values.push({ value: cumulative, labels: { le, ...s.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A gauge without labels that requests move up and down. */
export class LevelGauge {
  readonly name: string;
  readonly help: string;
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  #value = 0;

  constructor(opts: { name: string; help: string; registers: Registry[] }) {
    this.name = opts.name;
    this.help = opts.help;
    for (const r of opts.registers)
      r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  inc(): void {
    this.#value++;
  }

  dec(): void {
    this.#value--;
  }

  get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: [{ value: this.#value, labels: {} }],
      aggregator: this.aggregator,
    };
  }
}
