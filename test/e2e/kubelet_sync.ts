// A tiny stand-in for kubelet's ConfigMap/Secret volume: watch one object and lay its data out the way
// kubelet's AtomicWriter does: every version in a new timestamped folder, the `..data` symlink swapped
// atomically (symlink + rename), user-visible files as symlinks through `..data`, stale ones removed.
// Real kubelet adds its sync-period delay (up to a minute by default); this syncer writes on the watch
// event, so measured latencies are the gateway's own.
import {
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { type KubeConfig, ListWatch, Watch } from '@kubernetes/client-node';
import type { KubeRest } from '../../kube/kube_rest.ts';

export function atomicWrite(dir: string, files: Record<string, string>, mode = 0o644): void {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '');
  const version = `..${stamp}.${process.hrtime.bigint() % 1_000_000_000n}`;
  mkdirSync(join(dir, version));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, version, name), text, { mode });
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, '..data'));
  } catch {
    old = undefined;
  }
  symlinkSync(version, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  const visible = new Set(Object.keys(files));
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('..') || visible.has(entry)) continue;
    unlinkSync(join(dir, entry)); // a key that was removed from the object
  }
  for (const name of visible) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch {
      // already links through ..data
    }
  }
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}

interface DataObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  data?: Record<string, string>;
}

/** Keep `dir` in sync with one ConfigMap or Secret; resolves `ready` after the first write. */
export class VolumeSyncer {
  readonly #lw: ListWatch<DataObject>;
  #last = '';
  writes = 0;
  readonly ready: Promise<void>;

  constructor(
    kc: KubeConfig,
    rest: KubeRest,
    kind: 'configmaps' | 'secrets',
    namespace: string,
    name: string,
    dir: string,
  ) {
    const path = `/api/v1/namespaces/${namespace}/${kind}`;
    const selector = `metadata.name=${name}`;
    let markReady: () => void = () => {};
    this.ready = new Promise((r) => {
      markReady = r;
    });
    const list = () =>
      rest.request<{ items: DataObject[]; metadata: { resourceVersion: string } }>('GET', path, {
        query: { fieldSelector: selector },
      });
    this.#lw = new ListWatch<DataObject>(path, new Watch(kc), list as never, false, undefined, selector);
    const sync = (obj: DataObject) => {
      if (!obj.metadata.resourceVersion || obj.metadata.resourceVersion === this.#last) return;
      this.#last = obj.metadata.resourceVersion;
      const files: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj.data ?? {}))
        files[k] = kind === 'secrets' ? Buffer.from(v, 'base64').toString('utf8') : v;
      atomicWrite(dir, files, kind === 'secrets' ? 0o600 : 0o644);
      this.writes++;
      markReady();
    };
    this.#lw.on('add', sync);
    this.#lw.on('update', sync);
    this.#lw.on('error', () => {
      // a test control plane going away ends the watch; nothing to restart here
    });
  }

  async start(): Promise<void> {
    await this.#lw.start();
  }

  async stop(): Promise<void> {
    await this.#lw.stop();
  }
}
