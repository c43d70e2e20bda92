// Informers on our own REST client (kube_rest.ts), after client-go's reflector: list, then watch from
// the list's resourceVersion (with bookmarks, so a quiet resource keeps a fresh resourceVersion);
// when the server answers 410 Gone (the resourceVersion was compacted away) list again; on any other
// error restart with exponential backoff (429: come back in a second, as client-go honours
// Retry-After). One watch per namespace in scope (or one cluster-wide), merged behind one cache view.
// Not @kubernetes/client-node's ListWatch: loading that package costs the operator ~88 MiB of
// resident memory, nearly half of its budget. Cached objects drop metadata.managedFields (as
// controller-runtime's informers can): nothing reads them and they are most of an object's size.
import type { Logger } from 'pino';
import { KubeError, type KubeRest, resourcePath } from '../../../kube/kube_rest.ts';

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
/** the server ends each watch after about this long (jittered), and the informer watches again */
const WATCH_SECONDS = 300;

interface WatchEvent {
  type?: string;
  object?: WatchedObject & { code?: number; message?: string; reason?: string };
}

class Gone extends Error {}

interface Entry<T> {
  ns: string | undefined;
  path: string;
  cache: Map<string, T>;
  resourceVersion: string;
  /** the first list succeeded: start() may resolve */
  listed: boolean;
  failures: number;
  abort?: () => void;
}

const keyOf = (o: WatchedObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

function stripped<T extends WatchedObject>(o: T): T {
  const meta = o.metadata as Record<string, unknown> | undefined;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
  return o;
}

export class Informer<T extends WatchedObject> {
  readonly #entries: Entry<T>[] = [];
  readonly #rest: KubeRest;
  readonly #spec: InformerSpec;
  readonly #log: Logger;
  readonly #onEvent: (kind: EventKind, obj: T) => void;
  readonly #observer: InformerObserver;
  #stopped = false;
  readonly #sleeps = new Set<() => void>();
  #runs: Promise<void>[] = [];
  #synced: Promise<void> = Promise.resolve();
  errors = 0;
  /** lists after the first, i.e. after a watch expired (410 Gone) */
  relists = 0;

  constructor(
    rest: KubeRest,
    spec: InformerSpec,
    log: Logger,
    onEvent: (kind: EventKind, obj: T) => void,
    observer: InformerObserver = {},
  ) {
    this.#rest = rest;
    this.#spec = spec;
    this.#log = log.child({ informer: spec.plural });
    this.#onEvent = onEvent;
    this.#observer = observer;
    for (const ns of spec.namespaces ?? [undefined])
      this.#entries.push({
        ns,
        path: resourcePath(spec.apiVersion, spec.plural, ns),
        cache: new Map(),
        resourceVersion: '',
        listed: false,
        failures: 0,
      });
  }

  /** Start every watch; resolves once each has listed (the cache is synced). */
  start(): Promise<void> {
    const listed = this.#entries.map(
      (e) =>
        new Promise<void>((resolve) => {
          this.#runs.push(this.#run(e, resolve));
        }),
    );
    this.#synced = Promise.all(listed).then(() => undefined);
    return this.#synced;
  }

  get synced(): Promise<void> {
    return this.#synced;
  }

  async #run(e: Entry<T>, listed: () => void): Promise<void> {
    while (!this.#stopped) {
      try {
        if (!e.resourceVersion) {
          await this.#list(e);
          listed();
        }
        await this.#watch(e);
        e.failures = 0;
      } catch (err) {
        if (this.#stopped) return;
        if (err instanceof Gone) {
          e.resourceVersion = '';
          continue;
        }
        this.errors++;
        const tooMany = err instanceof KubeError && err.code === 429;
        if (!tooMany) e.failures++;
        const delay = tooMany
          ? TOO_MANY_REQUESTS_RETRY_MS
          : Math.min(MIN_RESTART_MS * 2 ** (e.failures - 1), MAX_RESTART_MS);
        if (e.listed) {
          this.#observer.restarted?.();
          this.#log.warn({ err: String(err), namespace: e.ns, retryInMs: delay }, 'watch failed; restarting');
        } else this.#log.warn({ err: String(err), namespace: e.ns, retryInMs: delay }, 'initial list failed');
        await this.#sleep(delay);
      }
    }
  }

  async #list(e: Entry<T>): Promise<void> {
    if (e.listed) {
      this.relists++;
      this.#observer.relisted?.();
      this.#log.info({ namespace: e.ns }, 'watch expired (410 Gone); relisting');
    }
    const list = await this.#rest.request<{ items: T[]; metadata: { resourceVersion: string } }>(
      'GET',
      e.path,
      { query: { labelSelector: this.#spec.labelSelector, fieldSelector: this.#spec.fieldSelector } },
    );
    const kind = this.#spec.plural;
    const fresh = new Map<string, T>();
    for (const item of list.items) fresh.set(keyOf(item), stripped(item));
    const before = e.cache;
    e.cache = fresh;
    e.resourceVersion = list.metadata.resourceVersion;
    e.listed = true;
    // what changed since the last list, as events (the first list: every object is an add)
    for (const [k, obj] of fresh) {
      const old = before.get(k);
      if (!old) this.#emit('add', obj);
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.#emit('update', obj);
    }
    for (const [k, obj] of before) if (!fresh.has(k)) this.#emit('delete', obj);
    this.#log.debug({ namespace: e.ns, items: fresh.size, kind }, 'listed');
  }

  async #watch(e: Entry<T>): Promise<void> {
    let gone = false;
    const w = this.#rest.watch(
      e.path,
      {
        watch: '1',
        resourceVersion: e.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(Math.round(WATCH_SECONDS * (1 + Math.random() / 2))),
        labelSelector: this.#spec.labelSelector,
        fieldSelector: this.#spec.fieldSelector,
      },
      (raw) => {
        const ev = raw as WatchEvent;
        const obj = ev.object;
        if (!obj) return;
        if (ev.type === 'ERROR') {
          if (obj.code === 410) gone = true;
          else throw new KubeError(obj.code ?? 500, obj, `watch ${e.path}`);
          return;
        }
        const rv = obj.metadata?.resourceVersion;
        if (rv) e.resourceVersion = rv;
        if (ev.type === 'BOOKMARK') return;
        const item = stripped(obj as T);
        const k = keyOf(item);
        if (ev.type === 'DELETED') {
          e.cache.delete(k);
          this.#emit('delete', item);
        } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
          const existed = e.cache.has(k);
          e.cache.set(k, item);
          this.#emit(existed ? 'update' : 'add', item);
        }
      },
    );
    e.abort = w.abort;
    try {
      await w.done;
    } catch (err) {
      if (err instanceof KubeError && err.code === 410) throw new Gone();
      throw err;
    } finally {
      e.abort = undefined;
    }
    if (gone) throw new Gone();
  }

  #emit(kind: EventKind, obj: T): void {
    try {
      this.#onEvent(kind, obj);
    } catch (err) {
      this.#log.error({ err: String(err) }, 'informer event handler failed');
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#sleeps.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.#sleeps.add(done);
    });
  }

  list(): T[] {
    return this.#entries.flatMap((e) => [...e.cache.values()]);
  }

  get(namespace: string, name: string): T | undefined {
    for (const e of this.#entries) {
      if (e.ns !== undefined && e.ns !== namespace) continue;
      const o = e.cache.get(`${namespace}/${name}`);
      if (o) return o;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const e of this.#entries) e.abort?.();
    for (const wake of [...this.#sleeps]) wake();
    await Promise.all(this.#runs);
  }
}
