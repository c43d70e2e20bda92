// The operator and the dataplane share one contract: the operator imports the dataplane only through
// dataplane/src/config/contract.ts (the config schema, its loader and checks, the hash a replica
// reports, the provider presets, the loadability check), and Kubernetes access only from kube/.
// Anything else would let the two drift apart, or pull dataplane internals into the operator image.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [p] : [];
  });
}

/** Every relative module specifier of a file, resolved to a repository path. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map(
    (m) => m[1] ?? '',
  );
  return specs.map((s) => relative(ROOT, resolve(file, '..', s)));
}

describe('the operator imports only the shared contract', () => {
  it('from the dataplane: dataplane/src/config/contract.ts and nothing else; Kubernetes from kube/', () => {
    const files = sources(join(ROOT, 'operator/src'));
    expect(files.length).toBeGreaterThan(20);
    const outside: string[] = [];
    for (const file of files)
      for (const target of imports(file)) {
        if (target.startsWith('operator/') || target.startsWith('kube/')) continue;
        if (target === 'dataplane/src/config/contract.ts') continue;
        outside.push(`${relative(ROOT, file)} -> ${target}`);
      }
    expect(outside).toEqual([]);
  });

  it('kube/ is shared and depends on neither side (but the helper that keeps secrets out of parse errors)', () => {
    // describeParseError is pure (no dataplane state): one definition of how a parse error is told
    // without quoting the file is worth more than a copy in kube/
    const shared = new Set(['dataplane/src/security/parse_errors.ts']);
    const outside = sources(join(ROOT, 'kube')).flatMap((file) =>
      imports(file)
        .filter((t) => !t.startsWith('kube/') && !shared.has(t))
        .map((t) => `${relative(ROOT, file)} -> ${t}`),
    );
    expect(outside).toEqual([]);
  });
});
