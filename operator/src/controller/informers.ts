// Informers on client-node's ListWatch: list, then watch from the list's resourceVersion. ListWatch
// itself relists when the API server answers 410 Gone (the resourceVersion was compacted away); on any
// other error it stops, so we restart it with exponential backoff. One ListWatch per namespace in
// scope (or one cluster-wide), merged behind one cache view.
import { type KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeRest } from '../../../dataplane/src/k8s/kube_rest.ts';
import { resourcePath } from '../../../dataplane/src/k8s/kube_rest.ts';

export interface WatchedObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; generation?: number };
}

export type EventKind = 'add' | 'update' | 'delete';

export interface InformerSpec {
  apiVersion: string;
  plural: string;
  /** namespaces to watch; undefined = all namespaces */
  namespaces?: readonly string[];
  labelSelector?: string;
  fieldSelector?: string;
}

const MIN_RESTART_MS = 500;
const MAX_RESTART_MS = 30_000;

type Named<T> = T & { metadata: { name: string } };
interface Entry<T> {
  lw: ListWatch<Named<T>>;
  ns: string | undefined;
  failures: number;
  /** the initial list succeeded; from then on errors restart the watch */
  started: boolean;
}

export class Informer<T extends WatchedObject> {
  readonly #watches: Entry<T>[] = [];
  readonly #log: Logger;
  #stopped = false;
  #timers = new Set<NodeJS.Timeout>();
  #synced: Promise<void> = Promise.resolve();
  errors = 0;

  constructor(
    kc: KubeConfig,
    rest: KubeRest,
    spec: InformerSpec,
    log: Logger,
    onEvent: (kind: EventKind, obj: T) => void,
  ) {
    this.#log = log.child({ informer: spec.plural });
    const scopes = spec.namespaces ?? [undefined];
    const watch = new Watch(kc);
    for (const ns of scopes) {
      const path = resourcePath(spec.apiVersion, spec.plural, ns);
      const list = () =>
        rest.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', path, {
          query: { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector },
        });
      const lw = new ListWatch<Named<T>>(
        path,
        watch,
        list as () => Promise<{ items: Named<T>[]; metadata: { resourceVersion: string } }> as never,
        false,
        spec.labelSelector,
        spec.fieldSelector,
      );
      const entry: Entry<T> = { lw, ns, failures: 0, started: false };
      for (const kind of ['add', 'update', 'delete'] as const) lw.on(kind, (obj) => onEvent(kind, obj));
      lw.on('connect', () => {
        entry.failures = 0;
      });
      lw.on('error', (err: unknown) => this.#restart(entry, err));
      this.#watches.push(entry);
    }
  }

  #restart(entry: Entry<T>, err: unknown): void {
    this.errors++;
    if (this.#stopped || !entry.started) return;
    entry.failures++;
    const delay = Math.min(MIN_RESTART_MS * 2 ** (entry.failures - 1), MAX_RESTART_MS);
    this.#log.warn({ err: String(err), namespace: entry.ns, retryInMs: delay }, 'watch failed; restarting');
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#stopped) entry.lw.start().catch((e: unknown) => this.#restart(entry, e));
    }, delay);
    t.unref();
    this.#timers.add(t);
  }

  /** Start every watch; resolves once each has listed (the cache is synced). */
  start(): Promise<void> {
    this.#synced = Promise.all(
      this.#watches.map(async (w) => {
        // a failing first list is retried by the error handler; wait until a list succeeds
        for (let attempt = 0; !this.#stopped; attempt++) {
          try {
            await w.lw.start();
            if (w.lw.latestResourceVersion() !== '') {
              w.started = true;
              return;
            }
          } catch (err) {
            this.#log.warn({ err: String(err) }, 'initial list failed');
          }
          await new Promise((r) => setTimeout(r, Math.min(MIN_RESTART_MS * 2 ** attempt, MAX_RESTART_MS)));
        }
      }),
    ).then(() => undefined);
    return this.#synced;
  }

  get synced(): Promise<void> {
    return this.#synced;
  }

  list(): T[] {
    return this.#watches.flatMap((w) => [...w.lw.list()]);
  }

  get(namespace: string, name: string): T | undefined {
    for (const w of this.#watches) {
      if (w.ns !== undefined && w.ns !== namespace) continue;
      const o = w.lw.get(name, namespace);
      if (o) return o;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#watches.map((w) => w.lw.stop()));
  }
}
