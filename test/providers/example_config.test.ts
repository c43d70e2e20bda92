// config/examples/providers.yaml is the README's "one example per provider": it must validate and
// name every provider type Sluice knows, so a new preset cannot ship without its example.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../dataplane/src/config/load.ts';
import { listPresets } from '../../dataplane/src/providers/presets.ts';
import { REPO_ROOT } from '../helpers/dataplane.ts';

describe('config/examples/providers.yaml', () => {
  it('validates and has an example of every provider type', async () => {
    const cfg = await loadConfigFile(`${REPO_ROOT}/config/examples/providers.yaml`);
    const used = new Set(cfg.providers.map((p) => p.type));
    const missing = listPresets()
      .map((p) => p.type)
      .filter((t) => !used.has(t) && t !== 'qwen'); // qwen is an alias of dashscope
    expect(missing).toEqual([]);
  });

  it('is what the README shows', () => {
    const example = readFileSync(`${REPO_ROOT}/config/examples/providers.yaml`, 'utf8');
    expect(readFileSync(`${REPO_ROOT}/README.md`, 'utf8')).toContain(example);
  });
});
