// `sluice operator`: reconcile AIProvider/AIRoute/AINamespace/AIPolicy into the dataplane ConfigMap and
// Secret. SIGTERM/SIGINT stop it gracefully (in-flight reconciles finish, leadership is released).
import { parseArgs } from 'node:util';
import { createLogger } from '../dataplane/src/observability/logger.ts';
import { loadKubeCredentials } from '../kube/kube_credentials.ts';
import { KubeRest } from '../kube/kube_rest.ts';
import { durationMs } from '../operator/src/api/common.ts';
import { Operator } from '../operator/src/controller/operator.ts';
import type { OwnerReference } from '../operator/src/controller/outputs.ts';
import { readBaseConfig } from '../operator/src/offline.ts';
import type { Command } from './commands.ts';

const HELP = `usage: sluice operator [options]

options:
  --namespaces a,b          namespaces to watch for Sluice resources (default: all)
  --output-namespace NS     namespace of the rendered ConfigMap and Secret (default: $POD_NAMESPACE or sluice-system)
  --config-map NAME         rendered ConfigMap (default: sluice-config)
  --secret NAME             rendered Secret (default: sluice-secrets)
  --secret-namespaces a,b   namespaces whose referenced Secrets may be read, by name (default: --namespaces,
                            or any namespace its RBAC allows when all are watched; the chart sets it)
  --secret-refresh D        how often referenced Secrets are read again to notice changes (default: 30s)
  --dataplane-namespace NS  where dataplane replicas keep their Leases (default: the output namespace)
  --secrets-dir DIR         where dataplanes mount the rendered Secret (default: /etc/sluice/secrets)
  --base-config FILE        server/store/cache sections for the rendered config (YAML)
  --platform-namespace NS   every AIPolicy in NS applies to every AINamespace, on top of its own
                            (limits tenant admins cannot remove; NS must be watched)
  --owner-deployment NAME   make this Deployment (in the output namespace) own the rendered objects
  --leader-elect            elect one active replica with a Lease (run several for availability)
  --lease-name NAME         leader election Lease (default: sluice-operator)
  --leader-elect-lease-duration D   how long a standby waits before taking over a Lease nobody renews (default: 15s)
  --leader-elect-renew-deadline D   a leader that cannot renew for this long steps down and exits (default: 10s)
  --leader-elect-retry-period D     how often the Lease is renewed or tried (default: 2s)
  --metrics-port PORT       serve /metrics, /healthz, /readyz (default: 8081; 0 = any free port)
  --metrics-host HOST       address the metrics server binds (default: 0.0.0.0)
  --kubeconfig FILE         kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster;
                            a token or client certificate, not exec or auth-provider plugins)`;

export const operatorCommand: Command = {
  summary: 'run the Kubernetes operator (CRDs -> dataplane ConfigMap and Secret)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        namespaces: { type: 'string' },
        'output-namespace': { type: 'string' },
        'config-map': { type: 'string' },
        secret: { type: 'string' },
        'dataplane-namespace': { type: 'string' },
        'secret-namespaces': { type: 'string' },
        'secret-refresh': { type: 'string' },
        'secrets-dir': { type: 'string' },
        'base-config': { type: 'string' },
        'platform-namespace': { type: 'string' },
        'owner-deployment': { type: 'string' },
        'leader-elect': { type: 'boolean' },
        'lease-name': { type: 'string' },
        'leader-elect-lease-duration': { type: 'string' },
        'leader-elect-renew-deadline': { type: 'string' },
        'leader-elect-retry-period': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        kubeconfig: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const port = Number(values['metrics-port'] ?? '8081');
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      console.error(`sluice operator: invalid --metrics-port '${values['metrics-port']}'`);
      return 2;
    }
    const durations: Record<string, number | undefined> = {};
    for (const flag of [
      'leader-elect-lease-duration',
      'leader-elect-renew-deadline',
      'leader-elect-retry-period',
      'secret-refresh',
    ] as const) {
      const text = values[flag];
      if (text === undefined) continue;
      try {
        durations[flag] = durationMs(text);
      } catch {
        console.error(`sluice operator: invalid --${flag} '${text}' (a duration such as 500ms, 10s or 1m)`);
        return 2;
      }
    }
    const watched = values.namespaces
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const platform = values['platform-namespace'] || undefined;
    if (platform && watched && !watched.includes(platform)) {
      // its policies would never be seen, and every tenant would run without them
      console.error(`sluice operator: --platform-namespace ${platform} must be one of --namespaces`);
      return 2;
    }
    const leaseMs = durations['leader-elect-lease-duration'];
    const renewMs = durations['leader-elect-renew-deadline'];
    // as in client-go: a leader must give up before a standby may take over
    if ((leaseMs ?? 15_000) <= (renewMs ?? 10_000)) {
      console.error(
        'sluice operator: --leader-elect-lease-duration must be longer than --leader-elect-renew-deadline',
      );
      return 2;
    }
    const log = createLogger().child({ component: 'operator' });
    // our own loader, not @kubernetes/client-node's (~88 MiB of resident memory): in-cluster service
    // account, $KUBECONFIG or ~/.kube/config with a token or client certificate (no exec plugins)
    const kc = loadKubeCredentials(
      values.kubeconfig ? { env: { ...process.env, KUBECONFIG: values.kubeconfig } } : {},
    );
    const outputNamespace = values['output-namespace'] ?? process.env.POD_NAMESPACE ?? 'sluice-system';
    let owner: OwnerReference | undefined;
    if (values['owner-deployment']) {
      const name = values['owner-deployment'];
      const d = await new KubeRest(kc).request<{ metadata: { uid: string } }>(
        'GET',
        `/apis/apps/v1/namespaces/${outputNamespace}/deployments/${name}`,
      );
      owner = { apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid };
    }
    const op = new Operator({
      kc,
      log,
      namespaces: watched,
      outputNamespace,
      configMapName: values['config-map'],
      secretName: values.secret,
      dataplaneNamespace: values['dataplane-namespace'],
      secretNamespaces: values['secret-namespaces']
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean),
      secretRefreshMs: durations['secret-refresh'],
      secretsDir: values['secrets-dir'],
      base: await readBaseConfig(values['base-config']),
      platformNamespace: platform,
      owner,
      leaderElect: values['leader-elect'] ?? false,
      leaseName: values['lease-name'],
      leaseDurationSeconds: leaseMs === undefined ? undefined : Math.ceil(leaseMs / 1000),
      renewDeadlineMs: renewMs,
      retryPeriodMs: durations['leader-elect-retry-period'],
      metricsPort: port,
      metricsHost: values['metrics-host'],
      onLostLeadership: () => {
        log.error('lost leadership; exiting so a fresh process can campaign again');
        process.exit(1);
      },
    });
    await op.start();
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      op.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'error while stopping');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    return undefined;
  },
};
