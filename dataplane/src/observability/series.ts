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

/** A recently used label set and its series (Family.at); `s` undefined when the slot is empty. */
interface Recent<S> {
  s: S | undefined;
  v0: string | undefined;
  v1: string | undefined;
  v2: string | undefined;
  v3: string | undefined;
  v4: string | undefined;
  v5: string | undefined;
}

function recentSlot<S>(): Recent<S> {
  return {
    s: undefined,
    v0: undefined,
    v1: undefined,
    v2: undefined,
    v3: undefined,
    v4: undefined,
    v5: undefined,
  };
}

/** One level per label: the values are config names and fixed words, already flat strings. */
type Level<S> = Map<string | undefined, Level<S> | S>;

abstract class Family<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';
  abstract readonly type: string;
  /** every series, for scrapes */
  protected readonly series: S[] = [];
  #root: Level<S> = new Map();
  /**
   * The last two label sets used and their series. Consecutive updates nearly always repeat one of
   * them (one route and provider serve most requests; a request updates token families for 'input'
   * then 'output'), and up to six string compares are cheaper than the Map lookups: the lookups were
   * the largest of Sluice's hash-table costs in `bench/perf_diff.ts`. Updated in place, so a miss
   * allocates nothing.
   */
  readonly #recent: [Recent<S>, Recent<S>] = [recentSlot(), recentSlot()];
  /** the slot the next miss overwrites (the older one) */
  #older = 0;

  constructor(opts: FamilyOptions<L>) {
    if (opts.labelNames.length > 6) throw new Error(`metric ${opts.name}: at most 6 labels`);
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers)
      r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract create(labels: Labels): S;

  /**
   * The series of one label set, created on first use. Found by one Map lookup per label on the values
   * as they are: building a key string per update (and flattening it to hash it) was ~5% of the bytes a
   * request allocates, and a rest-parameter array per call more.
   */
  protected at(v0?: string, v1?: string, v2?: string, v3?: string, v4?: string, v5?: string): S {
    for (let i = 0; i < 2; i++) {
      const r = this.#recent[i] as Recent<S>;
      if (
        r.s !== undefined &&
        r.v0 === v0 &&
        r.v1 === v1 &&
        r.v2 === v2 &&
        r.v3 === v3 &&
        r.v4 === v4 &&
        r.v5 === v5
      ) {
        this.#older = 1 - i;
        return r.s;
      }
    }
    const s = this.#find(v0, v1, v2, v3, v4, v5);
    const r = this.#recent[this.#older] as Recent<S>;
    this.#older = 1 - this.#older;
    r.v0 = v0;
    r.v1 = v1;
    r.v2 = v2;
    r.v3 = v3;
    r.v4 = v4;
    r.v5 = v5;
    r.s = s;
    return s;
  }

  #find(v0?: string, v1?: string, v2?: string, v3?: string, v4?: string, v5?: string): S {
    const n = this.labelNames.length;
    let level = this.#root;
    for (let i = 0; i < n - 1; i++) {
      const next = level.get(i === 0 ? v0 : i === 1 ? v1 : i === 2 ? v2 : i === 3 ? v3 : v4) as
        | Level<S>
        | undefined;
      if (next === undefined) return this.#add([v0, v1, v2, v3, v4, v5]);
      level = next;
    }
    const final =
      n === 0 ? '' : n === 1 ? v0 : n === 2 ? v1 : n === 3 ? v2 : n === 4 ? v3 : n === 5 ? v4 : v5;
    return (level.get(final) as S | undefined) ?? this.#add([v0, v1, v2, v3, v4, v5]);
  }

  #add(values: Values): S {
    const labels: Labels = {};
    this.labelNames.forEach((name, i) => {
      const v = values[i];
      if (typeof v !== 'string') throw new Error(`metric ${this.name}: label "${name}" has no value`);
      labels[name] = v;
    });
    const s = this.create(labels);
    this.#insert(values, s);
    return s;
  }

  #insert(values: readonly (string | undefined)[], s: S): void {
    const n = this.labelNames.length;
    let level = this.#root;
    for (let i = 0; i < n - 1; i++) {
      let next = level.get(values[i]) as Level<S> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(values[i], next);
      }
      level = next;
    }
    level.set(n === 0 ? '' : values[n - 1], s);
    this.series.push(s);
  }

  abstract get(): { name: string; help: string; type: string; values: MetricValue[]; aggregator: string };

  reset(): void {
    this.series.length = 0;
    this.#root = new Map();
    for (const r of this.#recent) r.s = undefined;
  }

  /** Drops the series whose labels `drop` picks (the readiness warm-up's own, runtime/warm_hot_path.ts). */
  removeWhere(drop: (labels: Labels) => boolean): void {
    const keep = this.series.filter((s) => !drop((s as { labels: Labels }).labels));
    if (keep.length === this.series.length) return;
    this.reset();
    for (const s of keep) {
      const labels = (s as { labels: Labels }).labels;
      this.#insert(
        this.labelNames.map((n) => labels[n]),
        s,
      );
    }
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

  inc(n: number, v0?: string, v1?: string, v2?: string, v3?: string, v4?: string, v5?: string): void {
    finite(this.name, n);
    if (n < 0) throw new Error(`metric ${this.name}: it is not possible to decrease a counter`);
    this.at(v0, v1, v2, v3, v4, v5).value += n;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.series) values.push({ value: s.value, labels: s.labels });
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

  observe(v: number, v0?: string, v1?: string, v2?: string, v3?: string, v4?: string, v5?: string): void {
    finite(this.name, v);
    const s = this.at(v0, v1, v2, v3, v4, v5);
    const b = this.#buckets;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    (s.counts[i] as number) += 1;
    s.sum += v;
    s.count += 1;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.series) {
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
