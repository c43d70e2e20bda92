// Markdown tables for the micro-benchmarks.
import type { MicroResults } from './run_all.ts';

const f = (x: number | undefined, d = 2) =>
  x === undefined || !Number.isFinite(x)
    ? 'n/a'
    : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function renderMicro(m: MicroResults): string {
  const out: string[] = ['### Micro-benchmarks (one process each, pinned to the gateway core)'];
  const tk = m.tokenizers;
  if (tk) {
    const libs = Object.keys(tk.rssMB);
    const bytes: Record<string, number> = {
      'stream delta (6 B)': 6,
      'prompt (1 KB)': 1024,
      'large prompt (32 KB)': 32768,
      'huge prompt (256 KB)': 262144,
    };
    out.push(
      '',
      `Tokenizer libraries on ${tk.encoding} (bench/micro/tokenizers.ts): µs per call, and MB/s. A call is synchronous, so its duration is how long it blocks the event loop when run inline. Count disagreements over the mixed corpus: ${tk.disagreements}.`,
      '',
      `| input | ${libs.map((l) => `${l} µs/call (MB/s)`).join(' | ')} |`,
      `|---|${libs.map(() => '---:').join('|')}|`,
      ...Object.entries(tk.microsPerCall).map(([label, row]) => {
        const b = bytes[label];
        return `| ${label} | ${libs
          .map((l) => {
            const us = row[l];
            return us === undefined ? 'n/a' : `${f(us, 1)}${b ? ` (${f(b / us, 1)})` : ''}`;
          })
          .join(' | ')} |`;
      }),
      `| RSS after loading the encoding (MB) | ${libs.map((l) => String(tk.rssMB[l])).join(' | ')} |`,
    );
  }
  if (m.eventLoop?.length) {
    out.push(
      '',
      'Event-loop delay while prompts are counted the way Sluice does it (bench/micro/tokenize_event_loop.ts): inline on the main thread vs the worker pool the admission path uses.',
      '',
      '| prompt | scenario | loop delay p50 ms | p99 ms | max ms | a 1 ms timer is late by (p99) ms |',
      '|---:|---|---:|---:|---:|---:|',
      ...m.eventLoop.flatMap((e) =>
        e.results.map(
          (r) =>
            `| ${e.promptKB} KB | ${r.scenario} | ${f(r.p50Ms)} | ${f(r.p99Ms)} | ${f(r.maxMs)} | ${f(r.otherRequestLateP99Ms)} |`,
        ),
      ),
    );
  }
  if (m.limiter?.length) {
    out.push(
      '',
      'Limiter: one operation = admit (GCRA request bucket + token window) + settle, through the real stores.',
      '',
      "On Redis, Redis's own CPU per operation (its main thread: the scripts, the commands in them, the network) and the scripts' share of it: what one Redis core can serve across all replicas.",
      '',
      '| store | in flight | ops/s | mean ms | p99 ms | Redis CPU µs/op | in scripts µs/op |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...m.limiter.map(
        (r) =>
          `| ${r.store} | ${r.inFlight} | ${r.opsPerSec.toLocaleString('en-US')} | ${f(r.meanMs, 4)} | ${f(r.p99Ms, 3)} | ${r.redisCpuUsPerOp === undefined ? '–' : f(r.redisCpuUsPerOp, 1)} | ${r.scriptUsPerOp === undefined ? '–' : f(r.scriptUsPerOp, 1)} |`,
      ),
    );
  }
  const c = m.configSwap;
  if (c) {
    out.push(
      '',
      `Config of ${c.routes.toLocaleString('en-US')} routes${c.keysIncluded ? ` and ${c.keys.toLocaleString('en-US')} API keys` : ' (**API keys left out: the policy engine was not available**)'}, ${c.jsonBytes ? `${f(c.jsonBytes / 1024, 0)} KiB of JSON as the operator renders it, ` : ''}${f(c.yamlBytes / 1024, 0)} KiB as YAML (median of runs, min–max):`,
      '',
      '| stage | ms |',
      '|---|---:|',
      `| parse YAML (a hand-written config) | ${f(c.parseMs.median, 1)} (${f(c.parseMs.min, 1)}–${f(c.parseMs.max, 1)}) |`,
      `| parse JSON (${c.jsonBytes ? 'as the operator renders it' : 'the same config in a .json file'}: JSON.parse) | ${f(c.parseJsonMs?.median, 1)} (${f(c.parseJsonMs?.min, 1)}–${f(c.parseJsonMs?.max, 1)}) |`,
      `| validate (schema + references) | ${f(c.validateMs.median, 1)} (${f(c.validateMs.min, 1)}–${f(c.validateMs.max, 1)}) |`,
      `| compile runtime (routes, providers, policy gate) | ${f(c.compileMs.median, 1)} (${f(c.compileMs.min, 1)}–${f(c.compileMs.max, 1)}) |`,
      `| hot reload end to end (file -> new runtime serving)${c.jsonBytes ? ', JSON' : ''} | ${f(c.swapMs.median, 1)} (${f(c.swapMs.min, 1)}–${f(c.swapMs.max, 1)}) |`,
      `| longest event-loop stall during a reload${c.jsonBytes ? ', JSON' : ''} | ${f(c.maxRequestStallMs.median, 1)} (${f(c.maxRequestStallMs.min, 1)}–${f(c.maxRequestStallMs.max, 1)}) |`,
    );
    if (c.swapYamlMs && c.maxRequestStallYamlMs)
      out.push(
        `| hot reload end to end, the same config as YAML | ${f(c.swapYamlMs.median, 1)} (${f(c.swapYamlMs.min, 1)}–${f(c.swapYamlMs.max, 1)}) |`,
        `| longest event-loop stall during a YAML reload (the YAML parse is one call) | ${f(c.maxRequestStallYamlMs.median, 1)} (${f(c.maxRequestStallYamlMs.min, 1)}–${f(c.maxRequestStallYamlMs.max, 1)}) |`,
      );
  }
  const e = m.endpointPick;
  if (e) {
    out.push(
      '',
      `Picking one of ${e.endpoints} endpoints (pods) per attempt (bench/micro/endpoint_pick.ts): EndpointSet.acquire + outstanding count + breaker success, CPU µs per pick (median of runs, min–max). A provider with one endpoint (a baseUrl) pays ${f(e.singleMicros.median, 3)} µs.`,
      '',
      '| picker | µs per pick |',
      '|---|---:|',
      ...Object.entries(e.microsPerPick).map(
        ([p, s]) => `| ${p} | ${f(s.median, 3)} (${f(s.min, 3)}–${f(s.max, 3)}) |`,
      ),
    );
  }
  for (const [k, v] of Object.entries(m.errors))
    out.push('', `**${k}:** ${v.split('\n').slice(0, 3).join(' ').slice(0, 500)}`);
  return out.join('\n');
}
