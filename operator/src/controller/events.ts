// core/v1 Events on the custom resources, emitted when a condition changes (not on every reconcile).
// Best effort: an Event that cannot be written is logged, never retried.
import type { Logger } from 'pino';
import type { KubeRest } from '../../../kube/kube_rest.ts';
import { microTime } from '../../../kube/replica_lease.ts';
import type { Resource } from '../api/common.ts';

export class EventRecorder {
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #instance: string;
  emitted = 0;

  constructor(rest: KubeRest, log: Logger, instance: string) {
    this.#rest = rest;
    this.#log = log;
    this.#instance = instance;
  }

  async emit(
    obj: Resource<unknown>,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: ns,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: 'sluice-operator' },
      reportingComponent: 'gateway.sluice.dev/operator',
      reportingInstance: this.#instance.slice(0, 128),
      action: 'Reconcile',
      firstTimestamp: now,
      lastTimestamp: now,
      eventTime: microTime(),
      count: 1,
    };
    try {
      await this.#rest.request('POST', `/api/v1/namespaces/${ns}/events`, { body });
      this.emitted++;
    } catch (err) {
      this.#log.warn(
        { err: String(err), object: `${obj.kind}/${ns}/${obj.metadata.name}`, reason },
        'cannot record event',
      );
    }
  }
}
