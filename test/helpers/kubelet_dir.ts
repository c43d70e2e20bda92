// Mimics how kubelet updates a mounted ConfigMap: every update writes a new timestamped folder, then
// atomically swaps the `..data` symlink to it; the visible files are symlinks through `..data`.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class KubeletDir {
  readonly dir: string;
  #n = 0;
  #names = new Set<string>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Write all files of a new version and swap it in atomically. */
  update(files: Record<string, string>): void {
    const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${this.#n++}`;
    const target = join(this.dir, version);
    mkdirSync(target);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(target, name), text);
    let old: string | undefined;
    try {
      old = readlinkSync(join(this.dir, '..data'));
    } catch {
      old = undefined;
    }
    const tmpLink = join(this.dir, '..data_tmp');
    symlinkSync(version, tmpLink);
    renameSync(tmpLink, join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      try {
        symlinkSync(join('..data', name), join(this.dir, name));
      } catch {
        // the per-file symlink already points through ..data
      }
    }
    // kubelet drops the links of keys the new version no longer has
    for (const name of this.#names) if (!(name in files)) rmSync(join(this.dir, name), { force: true });
    this.#names = new Set(Object.keys(files));
    if (old) rmSync(join(this.dir, old), { recursive: true, force: true });
  }
}
