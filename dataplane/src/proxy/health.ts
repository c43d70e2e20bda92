// Active health checks: providers with a `healthCheck` block are probed on an interval (GET on the
// preset's health path with the provider's auth), every endpoint (pod) on its own. Consecutive
// failures mark that endpoint unhealthy, which the picker skips just like an ejected one; successes
// bring it back. A provider is healthy while any of its endpoints is.
import type { Logger } from 'pino';
import type { Runtime } from '../compiled/compile.ts';
import type { ProviderRuntime } from '../compiled/provider_runtime.ts';
import { metrics } from '../observability/metrics.ts';
import { authHeaders, upstreamPath } from '../providers/request_parts.ts';
import type { Endpoint } from './endpoints.ts';

interface Probe {
  timer: NodeJS.Timeout;
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
        for (const ep of p.endpoints.list) ep.setHealthy();
        continue;
      }
      live.add(p);
      const existing = this.#probes.get(p);
      if (existing) clearInterval(existing.timer);
      const probe: Probe = {
        // each tick probes the members of that moment, so pods found later are checked too
        timer: setInterval(() => {
          for (const ep of p.endpoints.list) void this.#probe(p, ep);
        }, hc.intervalMs),
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

  async #probe(p: ProviderRuntime, ep: Endpoint): Promise<void> {
    const hc = p.resolved.config.healthCheck;
    if (!hc) return;
    let ok = false;
    try {
      const res = await ep.transport.send(
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
    const where =
      p.endpoints.list.length > 1 ? { provider: p.name, endpoint: ep.origin } : { provider: p.name };
    const flipped = ep.recordProbe(ok, hc.healthyThreshold, hc.unhealthyThreshold);
    if (flipped === true) this.#log.info(where, 'provider healthy again');
    else if (flipped === false) this.#log.warn(where, 'provider failed its health check');
    metrics.providerHealthy.set({ provider: p.name }, p.healthy ? 1 : 0);
  }

  stop(): void {
    for (const probe of this.#probes.values()) clearInterval(probe.timer);
    this.#probes.clear();
  }
}
