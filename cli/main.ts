// `sluice <command>`: one CLI for the dataplane, the operator and offline GitOps checks.
// first: stops an older Node with a clear message before the dependencies below load
import './node_version.ts';
// before the dataplane's modules load: V8 settings NODE_OPTIONS cannot carry
import './v8_flags.ts';
import { commands } from './commands.ts';

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: sluice <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'sluice <command> --help' for a command's options.`;
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h' || name === 'help') {
  console.log(usage());
  process.exit(name ? 0 : 2);
}
const command = commands[name];
if (!command) {
  console.error(`sluice: unknown command '${name}'\n\n${usage()}`);
  process.exit(2);
}
try {
  const code = await command.run(rest);
  if (typeof code === 'number') process.exitCode = code;
} catch (err) {
  console.error(`sluice ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
