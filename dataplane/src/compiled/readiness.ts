// Ready means warm. A fresh replica answered p50 268 ms / max 693 ms in its first second under load
// (10-16 ms after): the tokenizer's rank tables were read on the first request that needed them, V8
// had compiled nothing of the request path yet and Redis scripts were sent with their source. So the
// replica warms up before it calls itself ready, and the decision is one function (decideReadiness)
// that every health endpoint uses (the API port's /readyz and any admin port), never a copy.
import { clientApis } from '../api/registry.ts';
import { encodingForRoute } from '../proxy/route_encoding.ts';
import type { StoreHealth } from '../store/types.ts';
import { countPromptTokens, type EncodingName } from '../tokens/counter.ts';
import type { Runtime } from './compile.ts';

export interface WarmState {
  /** the encodings whose tables are loaded and whose counting code has run */
  encodings: EncodingName[];
  /** how long the warm-up took */
  ms: number;
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

/** A prompt with the shapes real ones have (words, numbers, code, CJK), so every BPE path runs. */
const SAMPLE = `Summarise the quarterly report for 2024: revenue rose 12.5% to $4,210,000.
function add(a, b) { return a + b; } // code, punctuation, "quotes" and émojis 🚀
日本語のテキストも含まれます。 ${'tokens '.repeat(64)}`;

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
      for (let i = 0; i < 20; i++) countPromptTokens(SAMPLE, 2, enc);
    }
  }
  return [...seen];
}

/**
 * The request path's own code before any provider is called: body validation and prompt extraction
 * for every client API, on a realistic body. Done directly, not through HTTP, so no warm-up request
 * shows in the access log or the request metrics.
 */
function warmRequestPath(): void {
  const body = () => ({
    model: 'gpt-4o-mini',
    max_tokens: 16,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: [{ type: 'text', text: SAMPLE }] },
    ],
    tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }],
    prompt: SAMPLE,
    input: SAMPLE,
  });
  for (let i = 0; i < 20; i++) {
    for (const spec of clientApis) {
      try {
        const req = spec.parse(JSON.parse(JSON.stringify(body())));
        spec.promptText(req.body);
        spec.turns(req.body);
      } catch {
        // a body shape this API refuses: its validation ran, which is what is being warmed
      }
    }
  }
}

export async function warmUp(rt: Runtime): Promise<WarmState> {
  const t0 = performance.now();
  const encodings = warmTokenizers(rt);
  warmRequestPath();
  await rt.gate.warm?.();
  return { encodings, ms: Math.round(performance.now() - t0) };
}
