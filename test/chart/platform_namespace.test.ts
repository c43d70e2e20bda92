// operator.platformNamespace: the chart passes it to the operator (a flag the CLI documents), and
// refuses a platform namespace the operator would not watch (its AIPolicies would never be seen).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_BIN } from '../helpers/dataplane.ts';
import { getArray, one, REPO_ROOT, render, renderError, runOk } from './helm.ts';

const operatorArgs = async (values: unknown) =>
  getArray(
    one(await render(values), 'Deployment', 'sluice-operator'),
    'spec.template.spec.containers.0.args',
  );

describe('operator.platformNamespace', () => {
  it('is passed as --platform-namespace, which `sluice operator --help` documents', async () => {
    expect(await operatorArgs({})).not.toContainEqual(expect.stringMatching(/^--platform-namespace/));
    const args = await operatorArgs({
      operator: { platformNamespace: 'platform', watchNamespaces: ['team-a', 'platform'] },
    });
    expect(args).toContain('--platform-namespace=platform');
    const help = await runOk(NODE_BIN, [join(REPO_ROOT, 'bin/sluice.js'), 'operator', '--help']);
    expect(help).toMatch(/\s--platform-namespace NS\s/);
  });

  it('must be one of the watched namespaces when they are listed', async () => {
    const err = await renderError({
      operator: { platformNamespace: 'platform', watchNamespaces: ['team-a'] },
    });
    expect(err).toContain(
      'operator.platformNamespace platform must be listed in operator.watchNamespaces (its AIPolicies would never be seen)',
    );
  });
});
