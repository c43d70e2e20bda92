// Picking one endpoint (pod) of a self-hosted provider, as the attempt loop does per attempt:
// EndpointSet.acquire (picker scan + circuit slot), the outstanding count up and down, the breaker's
// success. 200 endpoints with scraped load, a few ejected and unhealthy, against a set of one (what
// every baseUrl provider pays). The report divides it by the same run's CPU per request.
// Run: `node bench/micro/endpoint_pick.ts [--quick]` prints one JSON object.
import { parseArgs } from 'node:util';
import {
  type PickContext,
  type PickerName,
  pickerSettings,
} from '../../dataplane/src/proxy/endpoint_picker.ts';
import { type Endpoint, EndpointSet } from '../../dataplane/src/proxy/endpoints.ts';
import type { Transport } from '../../dataplane/src/proxy/transport.ts';
import { round, type Summary, summarize } from '../stats.ts';

export interface EndpointPickResult {
  endpoints: number;
  /** picker -> µs per pick (median of rounds) */
  microsPerPick: Record<string, Summary>;
  /** the same for a provider with one endpoint (a baseUrl) */
  singleMicros: Summary;
}

const transport: Transport = { send: () => Promise.reject(new Error('unused')), close: async () => {} };

function makeSet(n: number, picker: PickerName): EndpointSet {
  const set = new EndpointSet({
    provider: 'bench',
    transport: () => transport,
    breaker: { consecutiveFailures: 5, baseEjectionMs: 600_000, maxEjectionMs: 600_000 },
    picker: pickerSettings({
      picker,
      loadMetrics: { path: '/metrics', intervalMs: 1000, timeoutMs: 500 },
      prefixAffinity: { prefixChars: 1024, maxLoadFactor: 1.5 },
    }),
    reportCircuit: false,
  });
  set.setOrigins(Array.from({ length: n }, (_, i) => `http://10.${(i >> 8) & 255}.${i & 255}.7:8000`));
  const now = Date.now();
  set.list.forEach((ep, i) => {
    ep.queue = (i * 7) % 13;
    ep.running = (i * 5) % 31;
    ep.kvUsage = ((i * 37) % 100) / 100;
    ep.loadAt = now + 3_600_000; // stays fresh for the whole run
    ep.latencyMs = 50 + ((i * 11) % 40);
    if (i % 50 === 3) for (let k = 0; k < 5; k++) ep.breaker.failure(); // ejected
    if (i % 67 === 5) ep.recordProbe(false, 1, 1); // failed its health check
  });
  return set;
}

function measure(set: EndpointSet, prompts: string[], picks: number): number {
  let i = 0;
  const ctx: PickContext = { promptText: () => prompts[i % prompts.length] as string, random: Math.random };
  const t0 = process.cpuUsage();
  for (i = 0; i < picks; i++) {
    const ep = set.acquire(ctx, undefined) as Endpoint;
    ep.enter();
    ep.leave();
    ep.breaker.success();
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / picks;
}

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const rounds = values.quick ? 3 : 9;
const picks = values.quick ? 20_000 : 100_000;
const N = 200;
// conversation prefixes of ~1 KB, as the prefix-affinity picker hashes them
const prompts = Array.from({ length: 64 }, (_, k) => `${'You are a careful assistant. '.repeat(36)} #${k}`);
const pickers: PickerName[] = [
  'least-load',
  'least-outstanding',
  'latency',
  'prefix-affinity',
  'round-robin',
];
const out: EndpointPickResult = { endpoints: N, microsPerPick: {}, singleMicros: summarize([0]) };
for (const p of pickers) {
  const set = makeSet(N, p);
  measure(set, prompts, picks); // warm up (JIT)
  out.microsPerPick[p] = summarize(
    Array.from({ length: rounds }, () => round(measure(set, prompts, picks), 3)),
  );
}
const one = makeSet(1, 'least-outstanding');
measure(one, prompts, picks);
out.singleMicros = summarize(Array.from({ length: rounds }, () => round(measure(one, prompts, picks), 3)));
console.log(JSON.stringify(out));
