// `sluice serve --config FILE`: run the dataplane. SIGTERM/SIGINT drain and exit 0; SIGHUP reloads.
import { parseArgs } from 'node:util';
import { Dataplane } from '../dataplane/src/dataplane.ts';
import { createLogger } from '../dataplane/src/observability/logger.ts';
import type { Command } from './commands.ts';

const HELP = `usage: sluice serve --config FILE [--host HOST] [--port PORT] [--admin-host HOST] [--admin-port PORT] [--report-lease]

Runs the dataplane with FILE (YAML or JSON), hot-reloading it when it changes.
PORT and HOST environment variables override the config's server.port and server.host.
The admin port (/metrics, detailed /readyz) is server.admin (default 127.0.0.1:9464);
ADMIN_PORT and ADMIN_HOST (or the flags) override it. With --port 0 and no admin port given,
the admin port is any free port too (its address is in the "listening" log line).
--report-lease (or SLUICE_REPORT_LEASE=1) keeps a Lease named after POD_NAME in POD_NAMESPACE
carrying the loaded config hash, which the operator reads to report Programmed. It reaches the
API server with KUBECONFIG (its first path), ~/.kube/config or the pod's service account.`;

export const serveCommand: Command = {
  summary: 'run the dataplane (OpenAI-compatible gateway) from a config file',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        'admin-host': { type: 'string' },
        'admin-port': { type: 'string' },
        'report-lease': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const configFile = values.config ?? process.env.SLUICE_CONFIG;
    if (!configFile) {
      console.error(HELP);
      return 2;
    }
    const portText = values.port ?? process.env.PORT;
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      console.error(`sluice serve: invalid port '${portText}'`);
      return 2;
    }
    const adminText = values['admin-port'] ?? process.env.ADMIN_PORT;
    const adminPort = adminText === undefined ? (port === 0 ? 0 : undefined) : Number(adminText);
    if (adminPort !== undefined && (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535)) {
      console.error(`sluice serve: invalid admin port '${adminText}'`);
      return 2;
    }
    const log = createLogger();
    // Loaded only when asked for. The reporter authenticates with our own small loader
    // (kube/kube_credentials.ts), never @kubernetes/client-node: that package costs
    // ~75 MiB of resident memory per pod (test/k8s/no_client_node.test.ts keeps it out).
    const reporter =
      values['report-lease'] || process.env.SLUICE_REPORT_LEASE === '1'
        ? (await import('../dataplane/src/k8s/lease_reporter.ts')).leaseReporterFromEnv(log)
        : undefined;
    const dataplane = new Dataplane({
      configFile,
      log,
      host: values.host ?? process.env.HOST,
      port,
      adminHost: values['admin-host'] ?? process.env.ADMIN_HOST,
      adminPort,
      onLoaded: reporter ? (hash, revision) => reporter.report(hash, revision) : undefined,
    });
    await dataplane.start();
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining');
      // stop counting as a replica first: a draining process gets no new traffic
      (reporter?.stop() ?? Promise.resolve())
        .then(() => dataplane.stop())
        .then(
          () => {
            log.info('stopped');
            process.exit(0);
          },
          (err: unknown) => {
            log.error({ err }, 'error while stopping');
            process.exit(1);
          },
        );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => void dataplane.reloadNow());
    return undefined;
  },
};
