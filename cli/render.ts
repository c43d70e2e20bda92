// `sluice render -f DIR|FILE...`: render AIProvider/AIRoute/AINamespace/AIPolicy manifests into the
// dataplane config with the operator's own code, for GitOps CI (diff it, or validate before sync).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkOffline, formatIssue, readBaseConfig } from '../operator/src/offline.ts';
import { encodeData } from '../operator/src/render/encode.ts';
import type { Command } from './commands.ts';

const HELP = `usage: sluice render -f DIR|FILE... [options]

Renders Sluice custom resources (and the Secrets they reference, when the manifests include them)
into the dataplane config, exactly as the operator would, and prints it as JSON (YAML tools read
it too).

options:
  -f, --filename PATH     manifest file or folder (repeatable; folders are read recursively)
  -n, --namespace NS      namespace of objects that name none (default: default)
      --secrets-dir DIR   where dataplanes mount the rendered Secret (default: /etc/sluice/secrets)
      --secrets-out DIR   also write the rendered Secret's files (credentials, API-key hashes) to DIR
      --assume-secrets    render even when referenced Secrets are not in the manifests
      --base-config FILE  server/store/cache sections to include (YAML)
      --platform-namespace NS  every AIPolicy of NS applies to every AINamespace (as the operator's flag)

Exit code 1 when an object is invalid or is left out of the config (problems go to stderr).`;

export const renderCommand: Command = {
  summary: 'render Sluice custom resources into the dataplane config (offline, for GitOps CI)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        namespace: { type: 'string', short: 'n' },
        'secrets-dir': { type: 'string' },
        'secrets-out': { type: 'string' },
        'assume-secrets': { type: 'boolean' },
        'base-config': { type: 'string' },
        'platform-namespace': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || !values.filename?.length) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    const result = await checkOffline(values.filename, {
      namespace: values.namespace ?? 'default',
      secretsDir: values['secrets-dir'] ?? '/etc/sluice/secrets',
      assumeSecrets: values['assume-secrets'] ?? false,
      base: await readBaseConfig(values['base-config']),
      platformNamespace: values['platform-namespace'] || undefined,
    });
    for (const issue of result.issues) console.error(formatIssue(issue));
    const r = result.rendered;
    if (!r) return 1;
    if (!r.configText) {
      console.error(`sluice render: nothing to render: ${r.emptyReason}`);
      return 1;
    }
    process.stdout.write(r.configText);
    if (values['secrets-out']) {
      const dir = values['secrets-out'];
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const encoded = encodeData('Secret', r.secretData);
      for (const [k, v] of Object.entries(encoded.data)) await writeFile(join(dir, k), v, { mode: 0o600 });
    }
    return result.issues.length ? 1 : 0;
  },
};
