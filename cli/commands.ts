// The command table. Each command lives in its own file and is loaded only when it runs: `sluice serve`
// must not pay (in start-up time and resident memory) for the operator's Kubernetes client or the
// renderer. The summaries for `sluice --help` are here; cli/commands.test.ts keeps them equal to the
// commands' own.

export interface Command {
  summary: string;
  /** returns the exit code, or undefined to keep running (servers) */
  run(argv: string[]): Promise<number | undefined>;
}

function lazy(summary: string, load: () => Promise<Command>): Command & { load(): Promise<Command> } {
  return { summary, load, run: async (argv) => (await load()).run(argv) };
}

export const commands: Record<string, Command & { load(): Promise<Command> }> = {
  operator: lazy(
    'run the Kubernetes operator (CRDs -> dataplane ConfigMap and Secret)',
    async () => (await import('./operator.ts')).operatorCommand,
  ),
  render: lazy(
    'render Sluice custom resources into the dataplane config (offline, for GitOps CI)',
    async () => (await import('./render.ts')).renderCommand,
  ),
  serve: lazy(
    'run the dataplane (OpenAI-compatible gateway) from a config file',
    async () => (await import('./serve.ts')).serveCommand,
  ),
  validate: lazy(
    'check dataplane config files and print every error with its field path',
    async () => (await import('./validate.ts')).validateCommand,
  ),
};
