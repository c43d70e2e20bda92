// Finds the control-plane binaries the envtest harness runs, following
// controller-runtime's envtest convention: KUBEBUILDER_ASSETS first, then the
// repo's .tools/bin (filled by scripts/install-tools.sh).
import { accessSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BinaryName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kubectl';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TOOLS_BIN = join(REPO_ROOT, '.tools', 'bin');

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Folders searched, in order. `binDir` (an explicit option) wins over both. */
export function searchDirs(binDir?: string): string[] {
  const dirs: string[] = [];
  if (binDir) dirs.push(binDir);
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) dirs.push(assets);
  dirs.push(TOOLS_BIN);
  return dirs;
}

/** Absolute path of `name`, or a clear error telling how to install it. */
export function findBinary(name: BinaryName, binDir?: string): string {
  const dirs = searchDirs(binDir);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(
    `envtest: cannot find '${name}' (looked in ${dirs.join(', ')}). ` +
      'Run scripts/install-tools.sh to build the pinned control-plane binaries into .tools/bin ' +
      '(about 7-10 minutes cold on 2 cores), or set KUBEBUILDER_ASSETS to a folder holding ' +
      'etcd, kube-apiserver and kubectl.',
  );
}
