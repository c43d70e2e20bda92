// Hot reload. Kubelet updates a mounted ConfigMap by writing a new timestamped folder and atomically
// swapping the `..data` symlink, so watching the file itself misses updates: we watch the folder (and
// the secrets folder), debounce, and also poll the resolved content as a safety net for filesystems
// where fs.watch is unreliable. A reload that fails keeps the last good config serving.
//
// Only events that can change the config count in its folder: the file itself, kubelet's `..`-named
// entries, and the secret files the caller names. Other writers share folders (an access log next to
// the config outside Kubernetes wrote several times a second, and every write rescheduled the check).
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { yieldToEventLoop } from './steps.ts';

export interface WatchOptions {
  file: string;
  extraDirs?: string[];
  /** other names in the config file's folder whose change counts (secret files kept beside it) */
  alsoWatched?: (name: string) => boolean;
  debounceMs?: number;
  pollMs?: number;
  /** called with the file text when its content (or a watched secret) changed */
  onChange: (text: string, reason: string) => Promise<void>;
  onError: (err: unknown) => void;
}

export class ConfigWatcher {
  readonly #opts: WatchOptions;
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #lastDigest = '';
  #running: Promise<void> = Promise.resolve();
  #pendingReason: string | undefined;

  constructor(opts: WatchOptions) {
    this.#opts = opts;
  }

  /** Start watching; `initialText` is what the current config was loaded from. */
  start(initialText: string, secretsDigest = ''): void {
    this.#lastDigest = digest(initialText) + secretsDigest;
    const configDir = dirname(this.#opts.file);
    const dirs = new Set([configDir, ...(this.#opts.extraDirs ?? [])]);
    for (const dir of dirs) {
      const counts = dir === configDir ? (name: string | null) => this.#counts(name) : () => true;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (counts(name)) this.#schedule('fs event');
        });
        w.on('error', (err) => this.#opts.onError(err));
        this.#watchers.push(w);
      } catch (err) {
        this.#opts.onError(err);
      }
    }
    this.#poll = setInterval(() => this.#schedule('poll'), this.#opts.pollMs ?? 2_000);
    this.#poll.unref();
  }

  /** Whether an event on `name` in the config's folder can change the config (no name: assume it can). */
  #counts(name: string | null): boolean {
    if (name === null) return true;
    return (
      name === basename(this.#opts.file) || name.startsWith('..') || (this.#opts.alsoWatched?.(name) ?? false)
    );
  }

  /** Force a check now (used by SIGHUP and tests). */
  trigger(reason = 'manual'): Promise<void> {
    this.#schedule(reason, 0);
    return new Promise((r) => setTimeout(r, 0)).then(() => this.#running);
  }

  // Short: kubelet lays a new version out in its own folder and swaps one symlink, so an early check
  // reads the old or the new version, never half of one; the debounce only folds the burst of events
  // one swap makes into one check (a reload costs about the changed entries, reuse_cache.ts)
  #schedule(reason: string, delay = this.#opts.debounceMs ?? 25): void {
    this.#pendingReason = reason;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const why = this.#pendingReason ?? reason;
      this.#running = this.#running.then(() => this.#check(why));
    }, delay);
    this.#timer.unref();
  }

  async #check(reason: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#opts.file, 'utf8');
    } catch (err) {
      // mid-swap the file can be briefly absent; the next event or poll retries
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#opts.onError(err);
      return;
    }
    const d = digest(text) + (await this.#secretsDigest());
    if (d === this.#lastDigest) return;
    this.#lastDigest = d;
    // hashing a big config and its key lists is work of its own: let requests in before the load starts
    await yieldToEventLoop();
    try {
      await this.#opts.onChange(text, reason);
    } catch (err) {
      this.#opts.onError(err);
    }
  }

  /** Secrets change without the config changing (rotation): include their content in the digest. */
  async #secretsDigest(): Promise<string> {
    return this.secretsDigestFn ? await this.secretsDigestFn() : '';
  }

  secretsDigestFn: (() => Promise<string>) | undefined;

  close(): void {
    for (const w of this.#watchers) w.close();
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#poll) clearInterval(this.#poll);
  }
}

export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Digest of several texts (secret files), without joining them into one big string first. */
export function digestAll(texts: readonly string[]): string {
  const h = createHash('sha256');
  for (const t of texts) h.update(t).update('\0');
  return h.digest('hex');
}
