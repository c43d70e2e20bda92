// Keep serving the last accepted generation of an AIRoute when an edit breaks it (a typo'd provider,
// a bad regex): the route stays in the config as it last worked, and its status says the current
// generation is not accepted and which one is served. Only routes: a tenant (AINamespace) or policy
// edit that fails must not leave an older, possibly more permissive, version in force (revoked API
// keys, a lifted limit), and providers carry credentials that the edit may have meant to replace.
// Held in the operator's memory: a new leader knows only the generations it has seen accepted.
import type { AIRoute } from '../api/airoute.ts';
import type { RenderResult } from '../render/render.ts';
import { type Inventory, keyOf, type Outcome } from '../render/types.ts';

export class LastAccepted {
  readonly #routes = new Map<string, AIRoute>();

  /** Routes now rejected whose earlier generation was accepted: key -> that earlier object. */
  heldBack(result: RenderResult, inv: Inventory): Map<string, AIRoute> {
    const out = new Map<string, AIRoute>();
    const byKey = new Map(result.outcomes.map((o) => [o.key, o]));
    for (const r of inv.routes) {
      const key = keyOf('AIRoute', r);
      const last = this.#routes.get(key);
      const now = byKey.get(key);
      if (!last || !now || now.accepted.ok) continue;
      if ((last.metadata.generation ?? 0) === (r.metadata.generation ?? 0)) continue; // nothing older to serve
      out.set(key, last);
    }
    return out;
  }

  /**
   * Merge a render with routes held back (`second`, rendered from the inventory with the held routes
   * in place of their current generation) into what is written and reported: `second`'s config, with
   * each held route's outcome from `first` (its current generation) saying which generation is served.
   */
  merge(first: RenderResult, second: RenderResult, held: ReadonlyMap<string, AIRoute>): RenderResult {
    const current = new Map(first.outcomes.map((o) => [o.key, o]));
    const outcomes = second.outcomes.map((o): Outcome => {
      const failing = held.has(o.key) ? current.get(o.key) : undefined;
      if (!failing || !o.accepted.ok) return failing ?? o;
      return {
        ...failing,
        accepted: {
          ...failing.accepted,
          message: `${failing.accepted.message}; the dataplanes keep serving generation ${o.generation}, the last accepted`,
        },
      };
    });
    return { ...second, outcomes };
  }

  /** Remember each route whose current generation was accepted; forget routes that are gone. */
  record(outcomes: readonly Outcome[], inv: Inventory): void {
    const accepted = new Set(outcomes.filter((o) => o.accepted.ok).map((o) => `${o.key}@${o.generation}`));
    const present = new Set<string>();
    for (const r of inv.routes) {
      const key = keyOf('AIRoute', r);
      present.add(key);
      if (accepted.has(`${key}@${r.metadata.generation ?? 0}`)) this.#routes.set(key, r);
    }
    for (const key of this.#routes.keys()) if (!present.has(key)) this.#routes.delete(key);
  }

  clear(): void {
    this.#routes.clear();
  }
}
