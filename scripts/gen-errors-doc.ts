// Rewrites the error table in docs/errors.md from dataplane/src/errors.ts (run after adding a code:
// `node scripts/gen-errors-doc.ts && npx biome format --write docs/errors.md`). errors.test.ts fails on drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS } from '../dataplane/src/errors.ts';

const file = join(import.meta.dirname, '../docs/errors.md');
const doc = readFileSync(file, 'utf8');
const header = '| code | status | type | meaning |\n| --- | --- | --- | --- |\n';
const headerAt = /^\|\s*code\s*\|\s*status\s*\|\s*type\s*\|\s*meaning\s*\|\n\|[-| ]+\|\n/m;
const rows = Object.entries(ERRORS)
  .map(([code, e]) => `| \`${code}\` | ${e.status} | \`${e.type}\` | ${e.doc} |`)
  .join('\n');
const found = headerAt.exec(doc);
if (!found) throw new Error('docs/errors.md has no error table header');
const start = found.index;
let end = start + found[0].length;
while (end < doc.length && doc.startsWith('| `', end)) end = doc.indexOf('\n', end) + 1;
writeFileSync(file, doc.slice(0, start) + header + rows + '\n' + doc.slice(end));
console.log(`docs/errors.md: ${Object.keys(ERRORS).length} codes`);
