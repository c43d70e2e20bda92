// Ready means warm. A fresh replica answered p50 268 ms / max 693 ms in its first second under load
// (10-16 ms after): the tokenizer's rank tables were read on the first request that needed them, V8
// had compiled nothing of the request path yet (Fastify's routing and hooks, the intake, the
// pipeline, the translators) and Redis scripts were sent with their source. So the replica warms
// up before it calls itself ready (and before it listens), and the decision is one function
// (decideReadiness) that every health endpoint uses (the API port's /readyz and any admin port).
// What the hot-path requests change under load is measured in docs/policies.md (bench:warm-start).
import type { FastifyInstance } from 'fastify';
import { encodingForRoute } from '../proxy/route_encoding.ts';
import type { StoreHealth } from '../store/types.ts';
import { countPromptTokens, type EncodingName } from '../tokens/counter.ts';
import type { Runtime } from './compile.ts';
import {
  buildWarmRuntime,
  exerciseHotPath,
  type HotPathReport,
  WARM_PROMPT,
  type WarmRuntime,
} from './warm_hot_path.ts';

export interface WarmState {
  /** the encodings whose tables are loaded and whose counting code has run */
  encodings: EncodingName[];
  /** how long the warm-up took */
  ms: number;
  /** the requests sent through the API server and the translators before listening */
  hotPath?: HotPathReport;
}

export interface ReadinessInput {
  draining: boolean;
  /** undefined until the warm-up has finished */
  warm: WarmState | undefined;
  /** the shared store's health (policy engine), if the config has one */
  store: StoreHealth | undefined;
}

export interface Readiness {
  ready: boolean;
  /** why not, for the detailed health output */
  reason?: string;
}

/**
 * Ready: not draining, warmed up, and the limit store settled. A Redis store that answers must have
 * its scripts loaded; one whose circuit is open is settled too (fail-open serves on the local share,
 * fail-closed answers 503 with Retry-After, both documented), since taking every replica out of the
 * Service during a Redis outage would turn a degraded gateway into no gateway.
 */
export function decideReadiness(i: ReadinessInput): Readiness {
  if (i.draining) return { ready: false, reason: 'draining' };
  if (!i.warm) return { ready: false, reason: 'warming up' };
  if (i.store?.type === 'redis' && i.store.mode === 'shared' && i.store.scriptsLoaded === false)
    return { ready: false, reason: 'Redis scripts not loaded' };
  return { ready: true };
}

/** The store health inside a gate's health details (policy/gate.ts), if any. */
export function storeHealthOf(details: Record<string, unknown> | undefined): StoreHealth | undefined {
  const s = details?.store as StoreHealth | undefined;
  return s && typeof s === 'object' && typeof s.type === 'string' ? s : undefined;
}

const TOKENIZER_SAMPLE = `${WARM_PROMPT} ${'tokens '.repeat(64)}`;

/** Load and exercise the tokenizer of every model a route names (tables load once per process). */
export function warmTokenizers(rt: Runtime): EncodingName[] {
  const seen = new Set<EncodingName>();
  for (const route of rt.routes) {
    const models = route.listedModels.concat(
      route.balancer.backends.flatMap((b) => (b.model ? [b.model] : [...b.provider.resolved.models.keys()])),
    );
    for (const model of models) {
      const enc = encodingForRoute(route, model);
      if (seen.has(enc)) continue;
      seen.add(enc);
      for (let i = 0; i < 20; i++) countPromptTokens(TOKENIZER_SAMPLE, 2, enc);
    }
  }
  return [...seen];
}

/** What the hot-path warm-up needs from the dataplane: its API server and a way to point it elsewhere. */
export interface HotPathHost {
  /** the API server, not listening yet */
  app: FastifyInstance;
  /** serve the given runtime (the warm-up's), or the real one again when undefined */
  swap(rt: Runtime | undefined): void;
}

/** Long enough for a busy 1-core pod (0.6-1.3 s measured beside a CPU burner), short enough not to hold a rollout. */
export const HOT_PATH_DEADLINE_MS = 5_000;
/** Rounds over every (client API, backend) pair: see exerciseHotPath for when it stops. */
const HOT_PATH_ROUNDS = { minRounds: 3, maxRounds: 12 };

/** Requests through the API on a private runtime (warm_hot_path.ts); never throws, reports instead. */
async function warmHotPath(rt: Runtime, host: HotPathHost): Promise<HotPathReport> {
  const t0 = performance.now();
  let warm: WarmRuntime | undefined;
  try {
    warm = await buildWarmRuntime(rt.config);
    host.swap(warm.runtime);
    return await exerciseHotPath(host.app, warm, { ...HOT_PATH_ROUNDS, deadlineMs: HOT_PATH_DEADLINE_MS });
  } catch (err) {
    const ms = Math.round(performance.now() - t0);
    const failures = [`warm-up failed: ${(err as Error).message}`];
    return { requests: 0, ok: 0, pairs: [], rounds: 0, roundCpuMs: [], ms, failures };
  } finally {
    host.swap(undefined);
    await warm?.close().catch(() => {});
  }
}

/**
 * Tokenizer tables, the store's scripts, then (given the API server) requests through the whole hot
 * path. A warm-up that fails is reported in the state and logged by the caller, and the replica
 * becomes ready all the same: a replica that is slow for its first second beats one never ready.
 */
export async function warmUp(rt: Runtime, host?: HotPathHost): Promise<WarmState> {
  const t0 = performance.now();
  const encodings = warmTokenizers(rt);
  await rt.gate.warm?.();
  const hotPath = host ? await warmHotPath(rt, host) : undefined;
  return { encodings, ms: Math.round(performance.now() - t0), ...(hotPath ? { hotPath } : {}) };
}
