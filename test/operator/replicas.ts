// Dataplane replicas reduced to what the operator sees of them: each watches the rendered ConfigMap
// and, unless paused, reports the config it would load (hash and revision) in its own Lease, exactly
// as the dataplane's LeaseReporter does after a reload. For suites about status and Programmed, where
// real dataplane processes would only add start-up time (test/e2e and `npm run scale:operator` run
// real ones).
import { pino } from 'pino';
import { decodeStoredText } from '../../dataplane/src/config/load.ts';
import { LeaseReporter } from '../../dataplane/src/k8s/lease_reporter.ts';
import type { KubeRest } from '../../kube/kube_rest.ts';
import { CONFIG_HASH_ANNOTATION } from '../../kube/replica_lease.ts';
import { Informer } from '../../operator/src/controller/informers.ts';
import { OUT_NS } from './helpers.ts';

interface ConfigMapObject {
  metadata: { name?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

export class SimulatedReplica {
  readonly reporter: LeaseReporter;
  readonly #informer: Informer<ConfigMapObject>;
  #paused = false;
  #latest: ConfigMapObject | undefined;
  /** revisions reported, in order */
  readonly reported: number[] = [];

  constructor(rest: KubeRest, name: string) {
    const log = pino({ level: 'silent' });
    this.reporter = new LeaseReporter({ rest, namespace: OUT_NS, podName: name, log });
    this.#informer = new Informer<ConfigMapObject>(
      rest,
      {
        apiVersion: 'v1',
        plural: 'configmaps',
        namespaces: [OUT_NS],
        fieldSelector: 'metadata.name=sluice-config',
      },
      log,
      (kind, cm) => {
        if (kind === 'delete') return;
        this.#latest = cm;
        if (!this.#paused) this.#load(cm);
      },
    );
  }

  start(): Promise<void> {
    return this.#informer.start();
  }

  /** Stop loading new configs (a lagging replica); its Lease keeps being renewed. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (this.#latest) this.#load(this.#latest);
  }

  #load(cm: ConfigMapObject): void {
    const text = cm.data?.['config.yaml'];
    if (!text) return;
    const { revision } = JSON.parse(decodeStoredText(text)) as { revision?: number };
    if (revision !== undefined) this.reported.push(revision);
    this.reporter.report(cm.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? '', revision);
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
    await this.reporter.stop();
  }
}
