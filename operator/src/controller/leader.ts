// Leader election with a coordination.k8s.io Lease, after client-go's leaderelection: the holder renews
// every retry period; others take over only after they have seen the same record unchanged for a full
// lease duration (measured on their own clock, so clock skew between nodes does not matter). A leader
// that cannot renew within the renew deadline steps down. Releasing on shutdown hands over at once.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeRest } from '../../../dataplane/src/k8s/kube_rest.ts';
import { microTime } from '../../../dataplane/src/k8s/lease_reporter.ts';

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface LeaseRecord {
  metadata: { resourceVersion?: string; name?: string; namespace?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export class LeaderElector {
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #o: Required<LeaderOptions>;
  #leading = false;
  #stopped = false;
  #observed: { key: string; at: number } | undefined;
  #lastRenew = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(rest: KubeRest, log: Logger, opts: LeaderOptions) {
    this.#rest = rest;
    this.#log = log.child({ lease: opts.name, identity: opts.identity });
    this.#o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...opts };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop = this.#run();
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases/${this.#o.name}`;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let ok = false;
      try {
        ok = await this.#tryAcquireOrRenew();
      } catch (err) {
        this.#log.warn({ err: String(err) }, 'leader election round failed');
      }
      const now = Date.now();
      if (ok) {
        this.#lastRenew = now;
        if (!this.#leading) {
          this.#leading = true;
          this.#log.info('became leader');
          this.#o.onStartedLeading();
        }
      } else if (this.#leading && now - this.#lastRenew > this.#o.renewDeadlineMs) {
        this.#leading = false;
        this.#log.warn('lost leadership');
        this.#o.onStoppedLeading();
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, this.#o.retryPeriodMs);
        t.unref();
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime();
    const mine = (prev?: LeaseRecord['spec']) => ({
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: this.#o.leaseDurationSeconds,
      acquireTime: prev?.holderIdentity === this.#o.identity ? (prev.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity === this.#o.identity ? 0 : 1),
    });
    let current: LeaseRecord;
    try {
      current = await this.#rest.request<LeaseRecord>('GET', this.#path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.#rest.request(
          'POST',
          `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`,
          {
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.#o.name, namespace: this.#o.namespace },
              spec: { ...mine(), leaseTransitions: 0 },
            },
          },
        );
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = current.spec ?? {};
    const key = `${spec.holderIdentity}|${spec.renewTime}`;
    if (!this.#observed || this.#observed.key !== key) this.#observed = { key, at: Date.now() };
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== this.#o.identity;
    const duration = (spec.leaseDurationSeconds ?? this.#o.leaseDurationSeconds) * 1000;
    if (heldByOther && Date.now() - this.#observed.at < duration) return false;
    try {
      await this.#rest.request('PUT', this.#path, { body: { ...current, spec: mine(spec) } });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /** Stop campaigning; a leader releases the Lease so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const current = await this.#rest.request<LeaseRecord>('GET', this.#path);
      if (current.spec?.holderIdentity === this.#o.identity)
        await this.#rest.request('PUT', this.#path, {
          body: {
            ...current,
            spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
          },
        });
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'cannot release leader lease');
    }
  }
}
