// `sluice validate FILE...`: check dataplane config files; every problem is printed with the path of
// the bad field, and the exit code is 1 if any file is invalid.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from '../dataplane/src/config/load.ts';
import type { Command } from './commands.ts';
import { validateCrs } from './validate_crs.ts';

const HELP = `usage: sluice validate FILE...
       sluice validate -f DIR|FILE...   (custom resources; see sluice validate -f --help)

Validates dataplane config files (YAML or JSON) against the config schema and its references.
Prints "FILE: ok" or one line per problem: "FILE: path.to.field: message".`;

export const validateCommand: Command = {
  summary: 'check dataplane config files and print every error with its field path',
  async run(argv) {
    // -f checks custom resources (GitOps CI); without it, dataplane config files as before
    if (argv.some((a) => a === '-f' || a === '--filename' || a.startsWith('--filename=')))
      return validateCrs(argv);
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' } },
    });
    if (values.help || positionals.length === 0) {
      console.log(HELP);
      return values.help ? 0 : 2;
    }
    let failed = false;
    for (const file of positionals) {
      try {
        await loadConfigFile(file);
        console.log(`${file}: ok`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        failed = true;
        for (const issue of err.issues) console.error(`${file}: ${issue.path || '(root)'}: ${issue.message}`);
      }
    }
    return failed ? 1 : 0;
  },
};
