// `sluice validate FILE...`: check dataplane config files; every problem is printed with the path of
// the bad field, and the exit code is 1 if any file is invalid.
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../dataplane/src/config/load.ts';
import { missingSecrets, secretRefs, secretsDirFor } from '../dataplane/src/config/secret_refs.ts';
import type { Command } from './commands.ts';
import { validateCrs } from './validate_crs.ts';

const HELP = `usage: sluice validate [--check-credentials] FILE...
       sluice validate -f DIR|FILE...   (custom resources; see sluice validate -f --help)

Validates dataplane config files (YAML or JSON) against the config schema and its references.
Prints "FILE: ok" or one line per problem: "FILE: path.to.field: message".

options:
  -C, --check-credentials  also check every credential the file references, as \`sluice serve\`
                           would read it: each {env: VAR} set and non-empty, each {file: PATH}
                           readable (relative to server.secretsDir or the file's folder); every
                           missing one is reported, not just the first`;

const credentials = (n: number) => `${n} credential${n === 1 ? '' : 's'}`;

export const validateCommand: Command = {
  summary: 'check dataplane config files and print every error with its field path',
  async run(argv) {
    // -f checks custom resources (GitOps CI); without it, dataplane config files as before
    if (argv.some((a) => a === '-f' || a === '--filename' || a.startsWith('--filename=')))
      return validateCrs(argv);
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'check-credentials': { type: 'boolean', short: 'C' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || positionals.length === 0) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    let failed = false;
    for (const file of positionals) {
      try {
        const cfg = await loadConfigFile(file);
        const refs = secretRefs(cfg).length;
        if (!values['check-credentials']) {
          const note = refs ? ` (${credentials(refs)} not checked; --check-credentials checks them)` : '';
          console.log(`${file}: ok${note}`);
          continue;
        }
        const missing = missingSecrets(cfg, secretsDirFor(cfg, dirname(resolve(file))), process.env);
        if (missing.length) throw new ConfigError(file, missing);
        console.log(`${file}: ok${refs ? ` (${credentials(refs)} checked)` : ''}`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        failed = true;
        for (const issue of err.issues) console.error(`${file}: ${issue.path || '(root)'}: ${issue.message}`);
      }
    }
    return failed ? 1 : 0;
  },
};
