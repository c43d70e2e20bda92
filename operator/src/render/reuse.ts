// What the operator keeps from one render to the next, so that a change to one AIRoute out of
// thousands re-renders, re-validates and re-loads about one route. Every piece is keyed by its exact
// input, so a render with it yields what a render without it would (render.test.ts and
// reuse.test.ts compare the two); `sluice render` and `sluice validate` keep nothing.
//   routes     an AIRoute's rendered entry and findings, by uid + generation (the spec is fixed by
//              them; the name and namespace by the uid), valid while every reference it resolved
//              (its providers) still resolves the same way
//   config     the dataplane's own entry cache for validating the rendered text (reuse_cache.ts)
//   preflight  the replica's loader, kept like a replica's runtime (loadable.ts)
// API-key hashes are kept per Secret version by the reconciler and namespace.ts.
import { LoadCheck, ReuseCache } from '../../../dataplane/src/config/contract.ts';
import type { AIRoute } from '../api/airoute.ts';
import { SecretEncoding } from './budget.ts';
import type { Findings } from './findings.ts';
import type { Rendered } from './provider.ts';
import type { RefIndex } from './refs.ts';
import { renderRoute } from './route.ts';
import { dataplaneName, namespaceOf, type RouteInput } from './types.ts';

interface RenderedRoute {
  reads: Array<[string, string]>;
  findings: Findings;
  input: RouteInput;
}

export class RenderReuse {
  readonly routes = new ReuseCache();
  readonly config = new ReuseCache();
  readonly preflight = new LoadCheck();
  /** the Secret's last encoding, shared by the size check (budget.ts) and the write */
  readonly secretEncoding = new SecretEncoding();

  /** Removes the preflight's folder of secret files. */
  close(): Promise<void> {
    return this.preflight.close();
  }
}

/** renderRoute, or its result from an earlier render of the same generation with the same references. */
export function renderRouteReusing(r: AIRoute, refs: RefIndex, cache?: ReuseCache): Rendered<RouteInput> {
  const name = dataplaneName(namespaceOf(r), r.metadata.name);
  const uid = r.metadata.uid;
  if (!cache || !uid) return renderRoute(r, refs, name);
  const key = `${uid}\0${r.metadata.generation ?? 0}`;
  const known = cache.get<RenderedRoute>(key);
  // the caller may add to the findings (an earlier pass's rejection): hand out copies
  if (known && refs.unchanged(known.reads)) return { findings: known.findings.copy(), input: known.input };
  const { value, reads } = refs.recording(() => renderRoute(r, refs, name));
  cache.set(key, { reads, findings: value.findings.copy(), input: value.input } satisfies RenderedRoute);
  return value;
}
