// Active health checks: providers with a `healthCheck` block are probed on an interval (GET on the
// preset's health path with the provider's auth). Consecutive failures mark the provider unhealthy,
// which the attempt loop skips just like an ejected one; successes bring it back.
import type { Logger } from 'pino';
import { metrics } from '../observability/metrics.ts';
import { authHeaders, upstreamPath } from '../providers/request_parts.ts';
import type { Runtime } from '../runtime/compile.ts';
import type { ProviderRuntime } from '../runtime/provider_runtime.ts';

interface Probe {
  timer: NodeJS.Timeout;
  failures: number;
  successes: number;
}

/** The configured path, or the preset's health path (with its query, e.g. azure's api-version). */
function probePath(p: ProviderRuntime): string {
  const path = p.resolved.config.healthCheck?.path;
  return path ? p.resolved.basePath + path : upstreamPath(p.resolved, 'health', '');
}

export class HealthChecker {
  readonly #log: Logger;
  readonly #probes = new Map<ProviderRuntime, Probe>();

  constructor(log: Logger) {
    this.#log = log;
  }

  update(runtime: Runtime): void {
    const live = new Set<ProviderRuntime>();
    for (const p of runtime.providers.values()) {
      metrics.providerHealthy.set({ provider: p.name }, p.healthy ? 1 : 0);
      const hc = p.resolved.config.healthCheck;
      if (!hc || p.resolved.preset.transport !== 'http') {
        p.healthy = true;
        continue;
      }
      live.add(p);
      const existing = this.#probes.get(p);
      if (existing) clearInterval(existing.timer);
      const probe: Probe = {
        failures: 0,
        successes: 0,
        timer: setInterval(() => void this.#probe(p, probe), hc.intervalMs),
      };
      probe.timer.unref();
      this.#probes.set(p, probe);
    }
    for (const [p, probe] of this.#probes) {
      if (!live.has(p)) {
        clearInterval(probe.timer);
        this.#probes.delete(p);
      }
    }
  }

  async #probe(p: ProviderRuntime, probe: Probe): Promise<void> {
    const hc = p.resolved.config.healthCheck;
    if (!hc) return;
    let ok = false;
    try {
      const res = await p.transport.send(
        { method: 'GET', path: probePath(p), headers: authHeaders(p.resolved), body: '' },
        AbortSignal.timeout(hc.timeoutMs),
        { ...p.timeouts, firstByteMs: hc.timeoutMs, totalMs: hc.timeoutMs },
      );
      for await (const _ of res.body) {
        // drain so the connection returns to the pool
      }
      // 2xx is healthy; 429 only means busy. 401/403/404 mean the provider cannot serve us either.
      ok = (res.status >= 200 && res.status < 300) || res.status === 429;
    } catch {
      ok = false;
    }
    if (ok) {
      probe.failures = 0;
      probe.successes++;
      if (!p.healthy && probe.successes >= hc.healthyThreshold) {
        p.healthy = true;
        this.#log.info({ provider: p.name }, 'provider healthy again');
      }
    } else {
      probe.successes = 0;
      probe.failures++;
      if (p.healthy && probe.failures >= hc.unhealthyThreshold) {
        p.healthy = false;
        this.#log.warn({ provider: p.name }, 'provider failed its health check');
      }
    }
    metrics.providerHealthy.set({ provider: p.name }, p.healthy ? 1 : 0);
  }

  stop(): void {
    for (const probe of this.#probes.values()) clearInterval(probe.timer);
    this.#probes.clear();
  }
}
