// The committed crds/*.yaml must equal what the API types generate, and every field must be documented.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCrd, crdFileName, crdYaml, KINDS, objectSchema } from './crd.ts';
import { walkSchema } from './schema_dsl.ts';

const CRDS_DIR = join(import.meta.dirname, '../../../crds');

describe('CRD generation', () => {
  it.each(KINDS.map((k) => [k.kind, k] as const))(
    'crds/ holds the generated %s CRD (run `npm run crds`)',
    async (_, def) => {
      const committed = await readFile(join(CRDS_DIR, crdFileName(def)), 'utf8');
      expect(committed).toBe(crdYaml(def));
    },
  );

  it('crds/ holds no CRD that the API types do not define', async () => {
    const files = (await readdir(CRDS_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(KINDS.map(crdFileName).sort());
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s documents every field', (_, def) => {
    const missing: string[] = [];
    walkSchema(objectSchema(def), (node, path) => {
      if (path !== '.metadata' && !node.description?.trim()) missing.push(path || '(root)');
    });
    expect(missing).toEqual([]);
  });

  it.each(KINDS.map((k) => [k.kind, k] as const))('%s YAML round-trips to the built object', (_, def) => {
    expect(parse(crdYaml(def))).toEqual(JSON.parse(JSON.stringify(buildCrd(def))));
  });

  it('every kind is in the sluice category with short names and the status columns', () => {
    for (const def of KINDS) {
      const crd = buildCrd(def);
      const spec = crd.spec as { names: { categories: string[]; shortNames: string[] } };
      expect(spec.names.categories).toEqual(['sluice']);
      expect(spec.names.shortNames.length).toBeGreaterThan(0);
      expect(def.printerColumns.map((c) => c.name)).toEqual(
        expect.arrayContaining(['Ready', 'Programmed', 'Age']),
      );
    }
  });
});
