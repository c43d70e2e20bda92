// The command table. Each command lives in its own file and is added here.
import { renderCommand } from './render.ts';
import { serveCommand } from './serve.ts';
import { validateCommand } from './validate.ts';

export interface Command {
  summary: string;
  /** returns the exit code, or undefined to keep running (servers) */
  run(argv: string[]): Promise<number | undefined>;
}

export const commands: Record<string, Command> = {
  render: renderCommand,
  serve: serveCommand,
  validate: validateCommand,
};
