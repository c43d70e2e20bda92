// Informers on client-node's ListWatch: list, then watch from the list's resourceVersion. ListWatch
// itself relists when the API server answers 410 Gone (the resourceVersion was compacted away); on any
// other error it stops, so we restart it with exponential backoff. One ListWatch per namespace in
// scope (or one cluster-wide), merged behind one cache view.
// ListWatch only lists when it has no resourceVersion: first, and after a 410. So a list after the
// first one is a relist forced by an expired watch; it is counted and logged (observer.relisted).
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

/** Counts what the informer does on its own, for metrics. */
export interface InformerObserver {
  /** a watch expired (410 Gone) and the informer listed again */
  relisted?(): void;
  /** a watch or list failed and is restarted after a backoff */
  restarted?(): void;
}

const MIN_RESTART_MS = 500;
const TOO_MANY_REQUESTS_RETRY_MS = 1_000;
const MAX_RESTART_MS = 10_000;

/** HTTP status of a failed watch (client-node sets statusCode) or list (KubeError.code). */
function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  return typeof e.code === 'number' ? e.code : undefined;
}

type Named<T> = T & { metadata: { name: string } };
interface Entry<T> {
  lw: ListWatch<Named<T>>;
  ns: string | undefined;
  failures: number;
  /** the initial list succeeded; from then on errors restart the watch */
  started: boolean;
  /** errors of this watch so far (a restart that adds none got through: the backoff resets) */
  errors: number;
}

export class Informer<T extends WatchedObject> {
  readonly #watches: Entry<T>[] = [];
  readonly #log: Logger;
  #stopped = false;
  #timers = new Set<NodeJS.Timeout>();
  #synced: Promise<void> = Promise.resolve();
  errors = 0;
  /** lists after the first, i.e. after a watch expired (410 Gone) */
  relists = 0;
  readonly #observer: InformerObserver;

  constructor(
    kc: KubeConfig,
    rest: KubeRest,
    spec: InformerSpec,
    log: Logger,
    onEvent: (kind: EventKind, obj: T) => void,
    observer: InformerObserver = {},
  ) {
    this.#log = log.child({ informer: spec.plural });
    this.#observer = observer;
    const scopes = spec.namespaces ?? [undefined];
    const watch = new Watch(kc);
    for (const ns of scopes) {
      const path = resourcePath(spec.apiVersion, spec.plural, ns);
      const list = () => {
        if (entry.started) {
          this.relists++;
          this.#observer.relisted?.();
          this.#log.info({ namespace: ns }, 'watch expired (410 Gone); relisting');
        }
        return rest.request<{ items: T[]; metadata: { resourceVersion: string } }>('GET', path, {
          query: { labelSelector: spec.labelSelector, fieldSelector: spec.fieldSelector },
        });
      };
      const lw = new ListWatch<Named<T>>(
        path,
        watch,
        list as () => Promise<{ items: Named<T>[]; metadata: { resourceVersion: string } }> as never,
        false,
        spec.labelSelector,
        spec.fieldSelector,
      );
      const entry: Entry<T> = { lw, ns, failures: 0, started: false, errors: 0 };
      for (const kind of ['add', 'update', 'delete'] as const) lw.on(kind, (obj) => onEvent(kind, obj));
      // not on 'connect': ListWatch emits it before it even tries, so the backoff would never grow
      lw.on('error', (err: unknown) => this.#restart(entry, err));
      this.#watches.push(entry);
    }
  }

  #restart(entry: Entry<T>, err: unknown): void {
    this.errors++;
    entry.errors++;
    if (this.#stopped || !entry.started) return;
    this.#observer.restarted?.();
    // 429: the server is up and asks to come back shortly (e.g. its watch cache is still filling after
    // a restart), as client-go honours Retry-After; anything else backs off exponentially
    const tooMany = statusOf(err) === 429;
    if (!tooMany) entry.failures++;
    const delay = tooMany
      ? TOO_MANY_REQUESTS_RETRY_MS
      : Math.min(MIN_RESTART_MS * 2 ** (entry.failures - 1), MAX_RESTART_MS);
    this.#log.warn({ err: String(err), namespace: entry.ns, retryInMs: delay }, 'watch failed; restarting');
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (this.#stopped) return;
      const before = entry.errors;
      // start() resolves once the list (if any) and the watch request are answered; a failure on
      // the way has already been reported through 'error' (and scheduled the next restart)
      entry.lw.start().then(
        () => {
          if (entry.errors === before) entry.failures = 0;
        },
        (e: unknown) => this.#restart(entry, e),
      );
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
            const before = w.errors;
            await w.lw.start();
            if (w.lw.latestResourceVersion() !== '') {
              w.started = true;
              // listed, but the watch request right after failed: nothing else would restart it
              if (w.errors !== before) this.#restart(w, new Error('watch failed after the initial list'));
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
