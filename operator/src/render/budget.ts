// The rendered output has to fit two Kubernetes objects of at most 1 MiB of data each (the ConfigMap
// and the Secret). Without this check a render that did not fit failed only when it was written, and
// the whole gateway froze on its last config: one tenant with a Secret of 50,000 API keys kept every
// other tenant's changes (a revoked key, a lowered limit) from reaching the replicas. Now the objects
// with the largest share of the object that does not fit (the namespace holding the most first)
// are rejected (Accepted=False, naming the sizes) and the rest is rendered again, like any other
// object the dataplane would refuse.
import {
  CONFIG_KEY,
  compressText,
  type Encoded,
  encodeData,
  OBJECT_DATA_LIMIT,
  PLAIN_BUDGET,
  TooLargeError,
} from './encode.ts';
import type { RenderResult } from './render.ts';
import { secretFilePrefix } from './secrets.ts';
import { escalateDeny } from './tenants.ts';
import type { Problem } from './types.ts';

/**
 * The Secret's data as last encoded. At 10,000 API keys it is over the plain budget, so encoding it
 * gzips its largest key list; when every value is the same text as last time (nearly every render:
 * key lists are kept per Secret version), the last encoding is reused (the budget check here and
 * the write in controller/outputs.ts share it, so a render gzips it once).
 */
export class SecretEncoding {
  #data: Record<string, string> | undefined;
  #encoded: Encoded | undefined;

  of(what: string, data: Record<string, string>): Encoded {
    const last = this.#data;
    const keys = Object.keys(data);
    if (
      this.#encoded &&
      last &&
      keys.length === Object.keys(last).length &&
      keys.every((k) => last[k] === data[k])
    )
      return this.#encoded;
    this.#encoded = encodeData(what, data);
    this.#data = data;
    return this.#encoded;
  }
}

const FILE_PREFIX: Record<string, string> = { AIProvider: 'provider', AINamespace: 'ainamespace' };

/** Bytes of the Secret's data per owning object (a file belongs to the longest matching owner prefix). */
function secretShares(result: RenderResult): Map<string, number> {
  const prefixes: Array<[string, string]> = [];
  for (const owner of [...result.owners.providers, ...result.owners.namespaces]) {
    const [kind = '', ns = '', ...name] = owner.split('/');
    const file = FILE_PREFIX[kind];
    if (file) prefixes.push([secretFilePrefix(file, ns, name.join('/')), owner]);
  }
  prefixes.sort((a, b) => b[0].length - a[0].length);
  const shares = new Map<string, number>();
  for (const [key, value] of Object.entries(result.secretData)) {
    const owner = prefixes.find(([p]) => key.startsWith(p))?.[1];
    if (owner)
      shares.set(owner, (shares.get(owner) ?? 0) + Buffer.byteLength(key) + Buffer.byteLength(value));
  }
  return shares;
}

/** Bytes of the config text per owning object (its entry's JSON). */
function configShares(result: RenderResult): Map<string, number> {
  const shares = new Map<string, number>();
  const input = result.input;
  if (!input) return shares;
  for (const list of ['providers', 'routes', 'namespaces', 'policies'] as const)
    (input[list] ?? []).forEach((entry, i) => {
      const owner = result.owners[list][i];
      if (owner) shares.set(owner, (shares.get(owner) ?? 0) + Buffer.byteLength(JSON.stringify(entry)));
    });
  return shares;
}

/**
 * The config text as it will be written: the revision stamp adds `objects`, one entry per object.
 * Built only when the text may not fit plain (a render of 2,000 routes is ~850 KB: no copy of it
 * is made on every render).
 */
function stampedConfig(result: RenderResult): Record<string, string> | undefined {
  let stampBytes = 40;
  for (const o of result.outcomes) if (o.accepted.ok) stampBytes += o.key.length + 32;
  if (CONFIG_KEY.length + Buffer.byteLength(result.configText) + stampBytes <= PLAIN_BUDGET) return undefined;
  const objects: Record<string, [number, number]> = {};
  for (const o of result.outcomes) if (o.accepted.ok) objects[o.key] = [o.generation, 9_999_999_999];
  return {
    [CONFIG_KEY]: `${result.configText}${JSON.stringify({ revision: 9_999_999_999, objects })}`,
  };
}

interface Overflow {
  object: string;
  /** stored bytes (plain, or compressed where it had to be) and the plain bytes they came from */
  bytes: number;
  plain: number;
  shares: Map<string, number>;
}

function plainBytes(data: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(data)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Stored bytes of the data as encodeData would store it, or undefined when it is small and plain. */
function storedBytes(
  object: string,
  data: Record<string, string>,
  encoding?: SecretEncoding,
): number | undefined {
  if (plainBytes(data) <= PLAIN_BUDGET) return undefined;
  try {
    return (encoding ? encoding.of(object, data) : encodeData(object, data)).bytes;
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    // it does not fit even with every value compressed that shrinks: that is its size
    let n = 0;
    for (const [k, v] of Object.entries(data))
      n += Buffer.byteLength(k) + Math.min(Buffer.byteLength(v), Buffer.byteLength(compressText(v)));
    return n;
  }
}

/** What of the rendered output cannot be stored, or undefined when both objects fit. */
export function overflowOf(result: RenderResult, encoding?: SecretEncoding): Overflow | undefined {
  const checks: Array<
    [string, () => Record<string, string> | undefined, () => Map<string, number>, SecretEncoding?]
  > = [
    ['Secret', () => result.secretData, () => secretShares(result), encoding],
    ['ConfigMap', () => stampedConfig(result), () => configShares(result)],
  ];
  for (const [object, dataOf, shares, enc] of checks) {
    const data = dataOf();
    if (!data) continue;
    const bytes = storedBytes(object, data, enc);
    if (bytes === undefined || bytes <= OBJECT_DATA_LIMIT) continue;
    return { object, bytes, plain: plainBytes(data), shares: shares() };
  }
  return undefined;
}

/**
 * Reject the largest contributors until, at the overflowing object's compression ratio, the rest
 * would fit (the caller renders again and checks again). Returns how many objects it rejected.
 * A rejected tenant is rendered without match rules (its key list is what did not fit): its
 * callers get 401, never another tenant.
 */
/** `Kind/namespace/name` -> namespace */
function namespaceOfKey(owner: string): string {
  return owner.split('/')[1] ?? '';
}

export function shedOverflow(over: Overflow, rejected: Map<string, Problem>): number {
  const ratio = over.bytes / Math.max(1, over.plain);
  let excess = over.bytes - OBJECT_DATA_LIMIT;
  let count = 0;
  // by Kubernetes namespace first (the tenant boundary): the namespace holding the most goes first,
  // its largest objects first. By object alone, a tenant spreading its keys over many small
  // AINamespaces pushed out another namespace's one large but honest tenant.
  const perNamespace = new Map<string, number>();
  for (const [owner, share] of over.shares)
    perNamespace.set(namespaceOfKey(owner), (perNamespace.get(namespaceOfKey(owner)) ?? 0) + share);
  const total = (owner: string) => perNamespace.get(namespaceOfKey(owner)) ?? 0;
  const largest = [...over.shares].sort(
    (a, b) =>
      total(b[0]) - total(a[0]) || namespaceOfKey(a[0]).localeCompare(namespaceOfKey(b[0])) || b[1] - a[1],
  );
  for (const [owner, share] of largest) {
    if (excess <= 0) break;
    // an already rejected tenant's entry (its 403 rules) is what is large: render it without them
    if (rejected.has(owner)) {
      if (!escalateDeny(owner, rejected)) continue;
      excess -= share * ratio;
      count++;
      continue;
    }
    rejected.set(owner, {
      path: 'spec',
      message: `its rendered data (${share} bytes) does not fit: the ${over.object} the operator writes would need ${over.bytes} bytes, over the ${OBJECT_DATA_LIMIT}-byte object limit, so the largest objects of the namespace with the largest share are left out`,
    });
    escalateDeny(owner, rejected);
    excess -= share * ratio;
    count++;
  }
  return count;
}
