// Debian's prometheus package (scripts/install-tools.sh system) brings `prometheus` and `promtool`.
import { spawnSync } from 'node:child_process';

/** The command name, after checking it runs; a clear error naming the install step if not. */
export function requirePrometheusTool(name: 'prometheus' | 'promtool'): string {
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(
      `${name} is missing: run \`bash scripts/install-tools.sh system\` (Debian's prometheus package)`,
    );
  return name;
}
