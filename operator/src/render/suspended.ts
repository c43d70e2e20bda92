// The degrade switch as the status reports it: an AIProvider with `suspended: true`, or an AIRoute
// with suspended backends, gets a Suspended=True condition saying where its traffic goes instead.
import type { Resource } from '../api/common.ts';

interface MaybeSuspended {
  suspended?: boolean;
  backends?: Array<{ suspended?: boolean; providerRef?: { name: string } }>;
  fallback?: Array<{ suspended?: boolean; providerRef?: { name: string } }>;
}

/** The Suspended condition's message, or undefined when nothing is suspended. */
export function suspendedMessage(kind: string, obj: Resource<unknown>): string | undefined {
  const spec = (obj.spec ?? {}) as MaybeSuspended;
  if (kind === 'AIProvider') {
    return spec.suspended === true
      ? 'suspended: every route sends its traffic to its next backends and its fallback chain'
      : undefined;
  }
  if (kind !== 'AIRoute') return undefined;
  const off: string[] = [];
  spec.backends?.forEach((b, i) => {
    if (b.suspended) off.push(`backends[${i}] (${b.providerRef?.name ?? '?'})`);
  });
  spec.fallback?.forEach((b, i) => {
    if (b.suspended) off.push(`fallback[${i}] (${b.providerRef?.name ?? '?'})`);
  });
  if (off.length === 0) return undefined;
  const left = (spec.backends?.length ?? 0) - (spec.backends?.filter((b) => b.suspended).length ?? 0);
  return `suspended: ${off.join(', ')}; ${left > 0 ? `${left} balanced backend(s)` : 'the fallback chain'} serve instead`;
}
