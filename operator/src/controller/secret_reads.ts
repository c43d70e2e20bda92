// Least privilege for Secrets: the operator reads only the Secrets its objects reference, one GET
// per name, in the namespaces it may read Secrets in, and keeps only those. No list or watch, so its
// RBAC needs only `get` (it cannot enumerate a namespace's Secrets, and never caches Helm release
// Secrets or anyone else's), and nothing outside `namespaces` is asked for at all.
//
// The price of not watching is that a change is noticed by polling: every Secret read (or found
// missing) is fetched again every `refreshMs`, and a change, a deletion or an appearance is reported
// as an event like an informer's, which makes the operator render again. A render that meets a
// Secret never fetched before fetches it first (fetchMissing) so a new object does not flap to
// SecretNotFound and back.
import type { Logger } from 'pino';
import { KubeError, type KubeRest } from '../../../kube/kube_rest.ts';
import type { EventKind } from './informers.ts';
import type { SecretObject } from './reconciler.ts';

interface Entry {
  /** undefined: known to be missing (404) or not readable (403) */
  secret: SecretObject | undefined;
  fetchedAt: number;
}

export interface SecretReadsOptions {
  /** namespaces whose Secrets may be read; undefined = any (RBAC decides) */
  namespaces?: readonly string[];
  /** how often every Secret read so far is fetched again (default 30 s) */
  refreshMs?: number;
  /** GETs in flight at once */
  concurrency?: number;
}

const version = (s: SecretObject | undefined) =>
  s ? ((s.metadata as { resourceVersion?: string }).resourceVersion ?? '?') : '';

export class SecretReads {
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #o: SecretReadsOptions;
  readonly #onEvent: (kind: EventKind, obj: SecretObject) => void;
  readonly #cache = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  gets = 0;

  constructor(
    rest: KubeRest,
    log: Logger,
    o: SecretReadsOptions,
    onEvent: (kind: EventKind, obj: SecretObject) => void,
  ) {
    this.#rest = rest;
    this.#log = log.child({ component: 'secret-reads' });
    this.#o = o;
    this.#onEvent = onEvent;
  }

  /** May this namespace's Secrets be read at all? */
  readable(namespace: string): boolean {
    return !this.#o.namespaces || this.#o.namespaces.includes(namespace);
  }

  async start(): Promise<void> {
    const every = this.#o.refreshMs ?? 30_000;
    this.#timer = setInterval(() => {
      this.#refreshing ??= this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
    }, every);
    this.#timer.unref();
  }

  get synced(): Promise<void> {
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
  }

  get(namespace: string, name: string): SecretObject | undefined {
    return this.#cache.get(`${namespace}/${name}`)?.secret;
  }

  list(): SecretObject[] {
    return [...this.#cache.values()].flatMap((e) => (e.secret ? [e.secret] : []));
  }

  /**
   * Fetch the Secrets among `keys` ("namespace/name", every Secret a render read) never fetched
   * before, and forget those no longer read. Returns true when a new one was found, i.e. a render
   * that read `keys` should run again.
   */
  async fetchMissing(keys: Iterable<string>): Promise<boolean> {
    const wanted = new Set(keys);
    // a render reads every Secret any object references: the others are no longer kept or polled
    for (const k of this.#cache.keys()) if (!wanted.has(k)) this.#cache.delete(k);
    const todo = [...wanted].filter((k) => !this.#cache.has(k));
    let found = false;
    await this.#each(todo, async (key) => {
      const secret = await this.#fetch(key);
      this.#cache.set(key, { secret, fetchedAt: Date.now() });
      if (secret) found = true;
    });
    return found;
  }

  async #refresh(): Promise<void> {
    await this.#each([...this.#cache.keys()], async (key) => {
      const before = this.#cache.get(key)?.secret;
      const after = await this.#fetch(key).catch(() => before);
      this.#cache.set(key, { secret: after, fetchedAt: Date.now() });
      if (version(before) === version(after)) return;
      if (after) this.#onEvent(before ? 'update' : 'add', after);
      else if (before) this.#onEvent('delete', before);
    });
  }

  async #each(keys: string[], fn: (key: string) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++] as string;
        await fn(key);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency ?? 8, keys.length) }, worker));
  }

  async #fetch(key: string): Promise<SecretObject | undefined> {
    const [ns = '', name = ''] = key.split('/');
    if (!ns || !name || !this.readable(ns)) return undefined;
    this.gets++;
    try {
      return await this.#rest.request<SecretObject>(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`,
      );
    } catch (err) {
      if (err instanceof KubeError && (err.code === 404 || err.code === 403)) {
        if (err.code === 403) this.#log.warn({ secret: key }, 'not allowed to read this Secret');
        return undefined;
      }
      throw err;
    }
  }
}
