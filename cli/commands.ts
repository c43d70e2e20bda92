// The command table. Each command lives in its own file and is added here.
import { operatorCommand } from './operator.ts';
import { renderCommand } from './render.ts';
import { serveCommand } from './serve.ts';
import { validateCommand } from './validate.ts';

export interface Command {
  summary: string;
  /** returns the exit code, or undefined to keep running (servers) */
  run(argv: string[]): Promise<number | undefined>;
}

export const commands: Record<string, Command> = {
  operator: operatorCommand,
  render: renderCommand,
  serve: serveCommand,
  validate: validateCommand,
};
