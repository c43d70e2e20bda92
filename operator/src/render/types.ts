// What the renderer consumes (an inventory of custom resources and Secrets) and what it reports back
// per object (the facts the controller turns into Accepted / ResolvedRefs conditions).
import type { SluiceConfigInput } from '../../../dataplane/src/config/contract.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import type { AIPolicy } from '../api/aipolicy.ts';
import type { AIProvider } from '../api/aiprovider.ts';
import type { AIRoute } from '../api/airoute.ts';
import type { Resource } from '../api/common.ts';
import type { RenderReuse } from './reuse.ts';

export type ProviderInput = SluiceConfigInput['providers'][number];
export type RouteInput = SluiceConfigInput['routes'][number];
export type NamespaceInput = NonNullable<SluiceConfigInput['namespaces']>[number];
export type PolicyInput = NonNullable<SluiceConfigInput['policies']>[number];

/** Decoded Secret data (values as UTF-8 text), keyed by entry name. */
export type SecretEntries = Record<string, string>;

export interface Inventory {
  providers: readonly AIProvider[];
  routes: readonly AIRoute[];
  namespaces: readonly AINamespace[];
  policies: readonly AIPolicy[];
  /** referenced Secrets by "namespace/name" (a Map, or a lazy view over an informer cache) */
  secrets: { get(key: string): SecretEntries | undefined };
}

/** Deployment-level settings that no custom resource carries. */
export interface RenderOptions {
  /** where the dataplane mounts the rendered Secret; secret files in the config are relative to it */
  secretsDir: string;
  /**
   * server/store/cache/egress sections taken verbatim (e.g. store.type redis for many replicas);
   * `access: open` is honoured only while no AINamespace exists
   */
  base?: Pick<SluiceConfigInput, 'server' | 'store' | 'cache' | 'access' | 'egress'>;
  /**
   * the platform's namespace: every AIPolicy there applies to every AINamespace, on top of the
   * tenant's own (a ceiling tenant admins cannot remove); unset: tenants have only their own
   */
  platformNamespace?: string;
  /** offline rendering without the Secrets: treat every Secret reference as present */
  assumeSecrets?: boolean;
  /** what the operator keeps between renders (reuse.ts); offline renders keep nothing */
  reuse?: RenderReuse;
}

export type Kind = 'AIProvider' | 'AIRoute' | 'AINamespace' | 'AIPolicy';

export interface Verdict {
  ok: boolean;
  reason: string;
  message: string;
}

export interface Problem {
  /** field path in the object, e.g. spec.backends[0].providerRef.name */
  path: string;
  message: string;
}

/** The renderer's findings about one object. */
export interface Outcome {
  key: string;
  kind: Kind;
  namespace: string;
  name: string;
  generation: number;
  /** name in the rendered dataplane config, when accepted */
  dataplaneName: string;
  accepted: Verdict;
  resolvedRefs: Verdict;
  /** every problem with its field path (empty when accepted) */
  problems: Problem[];
  /** the degrade switch is on (AIProvider, or AIRoute backends): reported as Suspended=True */
  suspended?: string;
}

export function namespaceOf(obj: Resource<unknown>): string {
  return obj.metadata.namespace ?? 'default';
}

export function objectKey(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function keyOf(kind: Kind, obj: Resource<unknown>): string {
  return objectKey(kind, namespaceOf(obj), obj.metadata.name);
}

/**
 * Dataplane names are global, Kubernetes names are per namespace: join them with a dot, which a
 * namespace name (a DNS label) cannot contain, so the mapping is unambiguous.
 */
export function dataplaneName(namespace: string, name: string): string {
  return `${namespace}.${name}`;
}

/** Sort by namespace then name, so rendering does not depend on watch order. */
export function byNamespaceName<T extends Resource<unknown>>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => {
    const an = namespaceOf(a);
    const bn = namespaceOf(b);
    if (an !== bn) return an < bn ? -1 : 1;
    return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
  });
}
