// The servers' own load, read from their Prometheus text on an interval: requests waiting, requests
// running and KV-cache usage per endpoint, for the least-load and prefix-affinity pickers. Metric names
// are data (config, with defaults covering vLLM, SGLang and TGI), never a branch on a server's kind.
// Bodies are read up to a bound and scanned line by line for the few names asked for.
import type { LoadMetricsConfig } from '../config/schema.ts';
import type { Endpoint, EndpointSet } from './endpoints.ts';

export const DEFAULT_LOAD_METRICS = {
  queue: ['vllm:num_requests_waiting', 'sglang:num_queue_reqs', 'tgi_queue_size'],
  running: ['vllm:num_requests_running', 'sglang:num_running_reqs', 'tgi_batch_current_size'],
  kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage'],
};

/** vLLM's text with histograms is ~100 KiB for a few models; more than this is not a metrics page. */
const MAX_METRICS_BYTES = 4 << 20;

export interface ServerLoad {
  queue: number;
  running: number;
  kvUsage: number;
  /** how many of the asked-for series were present */
  found: number;
}

type Kind = 'queue' | 'running' | 'kvUsage';

/** Index of the character after a `{...}` label set starting at `i` (quotes and escapes honoured). */
function skipLabels(line: string, i: number): number {
  let quoted = false;
  for (let j = i + 1; j < line.length; j++) {
    const c = line.charCodeAt(j);
    if (quoted) {
      if (c === 92 /* \ */) j++;
      else if (c === 34 /* " */) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 125 /* } */) return j + 1;
  }
  return line.length;
}

/** Sum the queue and running series and take the highest KV usage among the names asked for. */
export function parseServerLoad(text: string, names: Map<string, Kind>): ServerLoad {
  const out: ServerLoad = { queue: 0, running: 0, kvUsage: 0, found: 0 };
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) continue;
    let nameEnd = 0;
    while (nameEnd < line.length) {
      const c = line.charCodeAt(nameEnd);
      if (c === 123 /* { */ || c === 32 || c === 9) break;
      nameEnd++;
    }
    const kind = names.get(line.slice(0, nameEnd));
    if (kind === undefined) continue;
    const afterLabels = line.charCodeAt(nameEnd) === 123 ? skipLabels(line, nameEnd) : nameEnd;
    const value = Number.parseFloat(line.slice(afterLabels).trim().split(/\s+/)[0] ?? '');
    if (!Number.isFinite(value) || value < 0) continue;
    out.found++;
    if (kind === 'kvUsage') out.kvUsage = Math.max(out.kvUsage, Math.min(value, 1));
    else out[kind] += value;
  }
  return out;
}

export function metricNames(cfg: LoadMetricsConfig): Map<string, Kind> {
  const names = new Map<string, Kind>();
  for (const n of cfg.queue ?? DEFAULT_LOAD_METRICS.queue) names.set(n, 'queue');
  for (const n of cfg.running ?? DEFAULT_LOAD_METRICS.running) names.set(n, 'running');
  for (const n of cfg.kvCacheUsage ?? DEFAULT_LOAD_METRICS.kvCacheUsage) names.set(n, 'kvUsage');
  return names;
}

/** Scrapes every member of one endpoint set on the configured interval. */
export class LoadScraper {
  readonly #set: EndpointSet;
  #cfg: LoadMetricsConfig;
  #names: Map<string, Kind>;
  #timer: NodeJS.Timeout | undefined;
  readonly #busy = new Set<Endpoint>();

  constructor(set: EndpointSet, cfg: LoadMetricsConfig) {
    this.#set = set;
    this.#cfg = cfg;
    this.#names = metricNames(cfg);
  }

  /** (Re)start on the current settings; scrapes at once so a new endpoint is known quickly. */
  start(cfg: LoadMetricsConfig = this.#cfg): void {
    this.stop();
    this.#cfg = cfg;
    this.#names = metricNames(cfg);
    this.#timer = setInterval(() => this.scrapeAll(), cfg.intervalMs);
    this.#timer.unref();
    this.scrapeAll();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  scrapeAll(): void {
    for (const ep of this.#set.list) {
      // a slow server is not asked again before it answered (or timed out)
      if (this.#busy.has(ep)) continue;
      this.#busy.add(ep);
      void this.#scrape(ep).finally(() => this.#busy.delete(ep));
    }
  }

  async #scrape(ep: Endpoint): Promise<void> {
    const { timeoutMs, path } = this.#cfg;
    try {
      const res = await ep.transport.send(
        { method: 'GET', path, headers: { accept: 'text/plain' }, body: '' },
        AbortSignal.timeout(timeoutMs),
        { connectMs: timeoutMs, firstByteMs: timeoutMs, idleMs: timeoutMs, totalMs: timeoutMs },
      );
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > MAX_METRICS_BYTES || res.status !== 200) {
          res.body.destroy();
          return;
        }
        parts.push(chunk);
      }
      if (res.status !== 200) return;
      const body = Buffer.concat(parts);
      const load = parseServerLoad(body.toString('utf8'), this.#names);
      if (load.found === 0) return;
      ep.queue = load.queue;
      ep.running = load.running;
      ep.kvUsage = load.kvUsage;
      ep.loadAt = Date.now();
    } catch {
      // no fresh numbers: after loadStaleMs the picker stops using the old ones
    }
  }
}
