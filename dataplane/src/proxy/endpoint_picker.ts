// Picking one endpoint of a provider for an attempt. One linear pass over the members, no sorting and
// no allocation, so 200 pods cost a few microseconds (bench/micro/endpoint_pick.ts). Ties are broken
// at random (reservoir sampling) so equal endpoints share the load.
//
//   least-load         this replica's outstanding + the server's queue + KV pressure (scraped metrics)
//   least-outstanding  this replica's outstanding attempts
//   latency            moving-average latency x (outstanding + 1); unmeasured endpoints go first
//   round-robin        the next usable member
//   random             uniform
//   prefix-affinity    the same prompt prefix to the same endpoint (rendezvous hashing) unless that
//                      endpoint's load is above maxLoadFactor x the average + 1 (bounded load)
import type { EndpointsConfig } from '../config/schema.ts';
import type { Endpoint, EndpointSet } from './endpoints.ts';

export type PickerName = NonNullable<EndpointsConfig['picker']>;

export interface PickerSettings {
  name: PickerName;
  /** scraped load older than this is ignored (the server stopped answering its metrics) */
  loadStaleMs: number;
  prefixChars: number;
  maxLoadFactor: number;
}

export interface PickContext {
  /** the request's prompt text, computed only by pickers that need it */
  promptText(): string;
  random(): number;
  /** the caller's namespace ('' for a replica serving one tenant): see breaker.ts */
  tenant?: string;
}

/** A full KV cache weighs as much as this many queued requests: past it the server preempts. */
export const KV_WEIGHT = 10;

export function pickerSettings(cfg: EndpointsConfig | undefined): PickerSettings {
  const lm = cfg?.loadMetrics;
  return {
    name: cfg?.picker ?? (lm ? 'least-load' : 'least-outstanding'),
    loadStaleMs: lm ? 3 * lm.intervalMs + lm.timeoutMs : 0,
    prefixChars: cfg?.prefixAffinity?.prefixChars ?? 1_024,
    maxLoadFactor: cfg?.prefixAffinity?.maxLoadFactor ?? 1.5,
  };
}

/** The server-side part of an endpoint's load, when its metrics are fresh. */
function serverLoad(ep: Endpoint, staleMs: number, now: number): number {
  if (ep.loadAt === 0 || now - ep.loadAt > staleMs) return 0;
  return ep.queue + KV_WEIGHT * ep.kvUsage;
}

function eligible(
  ep: Endpoint,
  ctx: PickContext,
  tried: ReadonlySet<Endpoint> | undefined,
  allowTried: boolean,
): boolean {
  return ep.usable(ctx.tenant) && (allowTried || tried === undefined || !tried.has(ep));
}

/** Mix two 32-bit values into a well-spread 32-bit weight (murmur3's finaliser). */
function mix(a: number, b: number): number {
  let h = (a ^ b) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function prefixHash(text: string, chars: number): number {
  let h = 0x811c9dc5;
  const n = Math.min(text.length, chars);
  for (let i = 0; i < n; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The endpoint to try, or undefined. With allowTried false, endpoints in `tried` are skipped (a retry
 * goes to a sibling); the set calls again with true when every usable endpoint was tried.
 */
export function pickEndpoint(
  set: EndpointSet,
  ctx: PickContext,
  tried: ReadonlySet<Endpoint> | undefined,
  allowTried: boolean,
): Endpoint | undefined {
  const list = set.list;
  if (list.length === 1) {
    const only = list[0] as Endpoint;
    return eligible(only, ctx, tried, allowTried) ? only : undefined;
  }
  const s = set.picker;
  switch (s.name) {
    case 'round-robin': {
      for (let i = 0; i < list.length; i++) {
        const ep = list[(set.cursor + i) % list.length] as Endpoint;
        if (eligible(ep, ctx, tried, allowTried)) {
          set.cursor = (set.cursor + i + 1) % list.length;
          return ep;
        }
      }
      return undefined;
    }
    case 'prefix-affinity':
      return (
        byPrefix(list, ctx, tried, allowTried, s) ?? lowest(list, ctx, tried, allowTried, s, 'least-load')
      );
    default:
      return lowest(list, ctx, tried, allowTried, s, s.name);
  }
}

/** The eligible endpoint with the lowest score for `name`; equal scores share by reservoir sampling. */
function lowest(
  list: Endpoint[],
  ctx: PickContext,
  tried: ReadonlySet<Endpoint> | undefined,
  allowTried: boolean,
  s: PickerSettings,
  name: PickerName,
): Endpoint | undefined {
  const now = name === 'least-load' ? Date.now() : 0;
  let best: Endpoint | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let ties = 0;
  for (let i = 0; i < list.length; i++) {
    const ep = list[i] as Endpoint;
    if (!eligible(ep, ctx, tried, allowTried)) continue;
    let score: number;
    if (name === 'least-load') score = ep.outstanding + serverLoad(ep, s.loadStaleMs, now);
    else if (name === 'latency') score = ep.latencyMs * (ep.outstanding + 1);
    else if (name === 'random') score = 0;
    else score = ep.outstanding;
    if (score < bestScore) {
      best = ep;
      bestScore = score;
      ties = 1;
    } else if (score === bestScore && ctx.random() * ++ties < 1) {
      best = ep;
    }
  }
  return best;
}

/** Rendezvous hashing on the prompt prefix, skipping endpoints loaded beyond the bound. */
function byPrefix(
  list: Endpoint[],
  ctx: PickContext,
  tried: ReadonlySet<Endpoint> | undefined,
  allowTried: boolean,
  s: PickerSettings,
): Endpoint | undefined {
  const now = Date.now();
  let total = 0;
  let n = 0;
  for (const ep of list) {
    if (!eligible(ep, ctx, tried, allowTried)) continue;
    total += ep.outstanding + serverLoad(ep, s.loadStaleMs, now);
    n++;
  }
  if (n === 0) return undefined;
  const bound = s.maxLoadFactor * (total / n) + 1;
  const h = prefixHash(ctx.promptText(), s.prefixChars);
  let best: Endpoint | undefined;
  let bestWeight = -1;
  for (const ep of list) {
    if (!eligible(ep, ctx, tried, allowTried)) continue;
    if (ep.outstanding + serverLoad(ep, s.loadStaleMs, now) > bound) continue;
    const w = mix(h, ep.hash);
    if (w > bestWeight) {
      best = ep;
      bestWeight = w;
    }
  }
  return best;
}
