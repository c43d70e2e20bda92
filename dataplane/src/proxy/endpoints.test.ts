// Endpoint sets and pickers without a network: membership, exclusion of tried and ejected endpoints,
// the least-load / prefix-affinity / round-robin pickers, the servers' metrics text and EndpointSlices.
import { describe, expect, it } from 'vitest';
import { originsOf } from '../discovery/endpointslices.ts';
import { type PickContext, pickerSettings } from './endpoint_picker.ts';
import { type Endpoint, EndpointSet } from './endpoints.ts';
import { metricNames, parseServerLoad } from './load_metrics.ts';
import type { Transport } from './transport.ts';

const BREAKER = { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 };

function makeSet(n: number, picker: Parameters<typeof pickerSettings>[0] = {} as never) {
  const closed: string[] = [];
  const set = new EndpointSet({
    provider: 'p',
    transport: (origin): Transport => ({
      send: () => Promise.reject(new Error('not used')),
      close: async () => {
        closed.push(origin);
      },
    }),
    breaker: BREAKER,
    picker: pickerSettings(picker),
    reportCircuit: false,
  });
  set.setOrigins(Array.from({ length: n }, (_, i) => `http://10.0.0.${i + 1}:8000`));
  return { set, closed };
}

function ctx(prompt = 'hello'): PickContext {
  let seed = 1;
  return {
    promptText: () => prompt,
    random: () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    },
  };
}

/** Take n attempts without finishing any; returns how many each endpoint got. */
function take(set: EndpointSet, n: number, c = ctx()): Map<string, number> {
  const got = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const ep = set.acquire(c, undefined) as Endpoint;
    ep.enter();
    got.set(ep.origin, (got.get(ep.origin) ?? 0) + 1);
  }
  return got;
}

const LOAD = { loadMetrics: { path: '/metrics', intervalMs: 1000, timeoutMs: 500 } } as never;

describe('endpoint set', () => {
  it('least-load keeps new attempts off the endpoint whose server reports a long queue', () => {
    const { set } = makeSet(3, LOAD);
    const busy = set.list[0] as Endpoint;
    busy.queue = 40;
    busy.loadAt = Date.now();
    const got = take(set, 60);
    // the others take 30 each before the busy one (40 queued) is as loaded as they are
    expect(got.get(busy.origin) ?? 0).toBe(0);
    expect(got.get((set.list[1] as Endpoint).origin)).toBe(30);
  });

  it('least-load weighs a full KV cache like queued requests and ignores stale metrics', () => {
    const { set } = makeSet(2, LOAD);
    const [a, b] = set.list as [Endpoint, Endpoint];
    a.kvUsage = 1;
    a.loadAt = Date.now();
    expect(take(set, 8).get(b.origin)).toBe(8);
    // numbers older than 3 intervals + the timeout are no longer believed
    a.loadAt = Date.now() - 10_000;
    while (b.outstanding > 0) b.leave();
    while (a.outstanding > 0) a.leave();
    const got = take(set, 10);
    expect(got.get(a.origin)).toBe(5);
  });

  it('a retry goes to an endpoint the request has not tried; ejected and unhealthy ones are skipped', () => {
    const { set } = makeSet(3);
    const [a, b, c] = set.list as [Endpoint, Endpoint, Endpoint];
    a.breaker.failure();
    a.breaker.failure(); // ejected
    b.recordProbe(false, 1, 1); // failed its health check
    expect(set.acquire(ctx(), undefined)).toBe(c);
    // every usable endpoint tried: the tried one is used again rather than nothing
    expect(set.acquire(ctx(), new Set([c]))).toBe(c);
    c.breaker.failure();
    c.breaker.failure();
    expect(set.acquire(ctx(), undefined)).toBeUndefined();
    expect(set.available()).toBe(false);
  });

  it('prefix-affinity sends one prefix to one endpoint until it is loaded past the bound', () => {
    const { set } = makeSet(5, {
      picker: 'prefix-affinity',
      prefixAffinity: { prefixChars: 64, maxLoadFactor: 1.5 },
    } as never);
    const c = ctx('You are a helpful assistant. Conversation 17 ...');
    const first = set.acquire(c, undefined) as Endpoint;
    for (let i = 0; i < 3; i++) expect(set.acquire(c, undefined)).toBe(first);
    // other prefixes spread over the endpoints
    const spread = new Set(Array.from({ length: 40 }, (_, i) => set.acquire(ctx(`prompt ${i}`), undefined)));
    expect(spread.size).toBeGreaterThanOrEqual(4);
    // a hot prefix: its endpoint gets attempts until its load passes 1.5 x average + 1, then siblings do
    const got = take(set, 20, c);
    expect(got.get(first.origin)).toBeLessThan(20);
    expect(first.outstanding).toBeLessThanOrEqual(1.5 * (20 / 5) + 2);
  });

  it('round-robin cycles through the usable endpoints', () => {
    const { set } = makeSet(3, { picker: 'round-robin' } as never);
    const order = Array.from({ length: 6 }, () =>
      (set.acquire(ctx(), undefined) as Endpoint).origin.slice(-6),
    );
    expect(order).toEqual(['1:8000', '2:8000', '3:8000', '1:8000', '2:8000', '3:8000']);
  });

  it('membership changes keep the state of surviving endpoints and close the pools of removed ones', () => {
    const { set, closed } = makeSet(3);
    const [a, b] = set.list as [Endpoint, Endpoint, Endpoint];
    for (let i = 0; i < 4; i++) a.enter();
    const change = set.setOrigins([a.origin, 'http://10.0.0.9:8000']);
    expect(change).toEqual({ added: 1, removed: 2 });
    expect(set.list[0]).toBe(a);
    expect(a.outstanding).toBe(4);
    expect(b.removed).toBe(true);
    expect(b.usable()).toBe(false);
    expect(closed).toEqual(['http://10.0.0.2:8000', 'http://10.0.0.3:8000']);
  });
});

describe('server load from Prometheus text', () => {
  const names = metricNames({ path: '/metrics', intervalMs: 1000, timeoutMs: 500 });

  it('sums queue and running over engines and takes the highest KV usage (vLLM)', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama 3 {8B}"} 3.0',
      'vllm:num_requests_waiting{engine="1",model_name="meta-llama/Llama 3 {8B}"} 4.0',
      'vllm:num_requests_running{engine="0",model_name="m"} 12.0',
      'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25',
      'vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.75',
      'vllm:num_requests_waiting_total 99',
      'vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="m"} 0.0',
    ].join('\n');
    expect(parseServerLoad(text, names)).toEqual({ queue: 7, running: 12, kvUsage: 0.75, found: 5 });
  });

  it('reads SGLang names, and nothing from a page without the asked-for series', () => {
    const text =
      'sglang:num_queue_reqs{model_name="x"} 5\nsglang:num_running_reqs{model_name="x"} 2\nsglang:token_usage{model_name="x"} 0.5\n';
    expect(parseServerLoad(text, names)).toEqual({ queue: 5, running: 2, kvUsage: 0.5, found: 3 });
    expect(parseServerLoad('up 1\nprocess_cpu_seconds_total 3\n', names).found).toBe(0);
    expect(
      parseServerLoad('vllm:num_requests_waiting NaN\nvllm:num_requests_waiting -3\n', names).found,
    ).toBe(0);
  });
});

describe('EndpointSlices to origins', () => {
  const spec = { namespace: 'models', service: 'llama', port: 'http', scheme: 'http' as const };

  it('keeps ready, serving, non-terminating endpoints on the named port, across slices', () => {
    const slices = [
      {
        metadata: { name: 'llama-abc' },
        addressType: 'IPv4' as const,
        ports: [
          { name: 'metrics', port: 9090 },
          { name: 'http', port: 8000 },
        ],
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true, serving: true, terminating: false } },
          { addresses: ['10.1.0.2'], conditions: { ready: false, serving: true, terminating: true } },
          { addresses: ['10.1.0.3'], conditions: {} },
          { addresses: ['10.1.0.4'], conditions: { ready: null, serving: false } },
        ],
      },
      {
        metadata: { name: 'llama-def' },
        addressType: 'IPv6' as const,
        ports: [{ name: 'http', port: 8000 }],
        endpoints: [{ addresses: ['fd00::5'], conditions: { ready: true } }],
      },
      { metadata: { name: 'llama-empty' }, ports: null, endpoints: null },
    ];
    expect([...originsOf(slices, spec)]).toEqual([
      'http://10.1.0.1:8000',
      'http://10.1.0.3:8000',
      'http://[fd00::5]:8000',
    ]);
    expect([...originsOf(slices, { ...spec, port: 9090 })]).toEqual([
      'http://10.1.0.1:9090',
      'http://10.1.0.3:9090',
    ]);
    // no port named: only a single-port slice is unambiguous
    expect([...originsOf(slices, { ...spec, port: undefined })]).toEqual(['http://[fd00::5]:8000']);
  });
});
