// Writes crds/*.yaml from the API types: `npm run crds` (or `node operator/src/api/generate.ts [DIR]`).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crdFileName, crdYaml, KINDS } from './crd.ts';

const dir = resolve(process.argv[2] ?? join(import.meta.dirname, '../../../crds'));
await mkdir(dir, { recursive: true });
for (const def of KINDS) {
  const file = join(dir, crdFileName(def));
  await writeFile(file, crdYaml(def));
  console.log(`wrote ${file}`);
}
