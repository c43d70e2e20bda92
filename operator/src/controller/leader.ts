// Leader election with a coordination.k8s.io Lease, after client-go's leaderelection: the holder renews
// every retry period; others take over only after they have seen the same record unchanged for a full
// lease duration (measured on their own clock, so clock skew between nodes does not matter). A leader
// that cannot renew within the renew deadline steps down — on a timer, so a request that hangs (a
// partitioned or frozen API server) cannot keep it leading — and a leader that finds another holder
// in the Lease steps down at once. Releasing on shutdown hands over at once.
import type { Logger } from 'pino';
import { isConflict, isNotFound, type KubeRest } from '../../../kube/kube_rest.ts';
import { microTime } from '../../../kube/replica_lease.ts';

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

/** A round's outcome: renewed/acquired, failed (retry), or the Lease is held by someone else. */
type Round = { ok: true } | { ok: false; holder?: string };

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
  #watchdog: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(rest: KubeRest, log: Logger, opts: LeaderOptions) {
    this.#rest = rest;
    this.#log = log.child({ lease: opts.name, identity: opts.identity });
    // `??`, not a spread over defaults: callers pass options that are present but undefined (the CLI
    // without timing flags), which a spread would copy over the defaults
    this.#o = {
      ...opts,
      leaseDurationSeconds: opts.leaseDurationSeconds ?? 15,
      renewDeadlineMs: opts.renewDeadlineMs ?? 10_000,
      retryPeriodMs: opts.retryPeriodMs ?? 2_000,
    };
    if (this.#o.renewDeadlineMs >= this.#o.leaseDurationSeconds * 1000)
      throw new Error('leader election: the renew deadline must be shorter than the lease duration');
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

  /** Every request of a round is bounded, so the loop keeps turning while the server hangs. */
  get #req(): { timeoutMs: number } {
    return { timeoutMs: this.#o.renewDeadlineMs };
  }

  /** `sentAt`: when the successful round began; the deadline counts from there, not from its answer. */
  #renewed(sentAt: number): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(
      () => this.#stepDown(`not renewed within the renew deadline (${this.#o.renewDeadlineMs} ms)`),
      Math.max(0, sentAt + this.#o.renewDeadlineMs - Date.now()),
    );
    this.#watchdog.unref();
    if (this.#leading) return;
    this.#leading = true;
    this.#log.info('became leader');
    this.#o.onStartedLeading();
  }

  #stepDown(reason: string): void {
    clearTimeout(this.#watchdog);
    if (!this.#leading) return;
    this.#leading = false;
    this.#log.warn({ reason }, 'lost leadership');
    this.#o.onStoppedLeading();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let round: Round = { ok: false };
      const sentAt = Date.now();
      try {
        round = await this.#tryAcquireOrRenew();
      } catch (err) {
        this.#log.warn({ err: String(err) }, 'leader election round failed');
      }
      // a renewal answered only after the deadline is too late to lead on; the next round renews again
      if (round.ok && Date.now() - sentAt < this.#o.renewDeadlineMs) this.#renewed(sentAt);
      else if (!round.ok && round.holder) this.#stepDown(`the Lease is held by ${round.holder}`);
      // any other failure: keep trying; the watchdog steps down once the renew deadline passes
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

  async #tryAcquireOrRenew(): Promise<Round> {
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
      current = await this.#rest.request<LeaseRecord>('GET', this.#path, this.#req);
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
            ...this.#req,
          },
        );
        return { ok: true };
      } catch (e) {
        if (isConflict(e)) return { ok: false };
        throw e;
      }
    }
    const spec = current.spec ?? {};
    const key = `${spec.holderIdentity}|${spec.renewTime}`;
    if (!this.#observed || this.#observed.key !== key) this.#observed = { key, at: Date.now() };
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== this.#o.identity;
    const duration = (spec.leaseDurationSeconds ?? this.#o.leaseDurationSeconds) * 1000;
    if (heldByOther && (this.#leading || Date.now() - this.#observed.at < duration))
      return { ok: false, holder: spec.holderIdentity };
    try {
      await this.#rest.request('PUT', this.#path, { body: { ...current, spec: mine(spec) }, ...this.#req });
      return { ok: true };
    } catch (err) {
      if (isConflict(err)) return { ok: false };
      throw err;
    }
  }

  /** Stop campaigning; a leader releases the Lease so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    clearTimeout(this.#watchdog);
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const current = await this.#rest.request<LeaseRecord>('GET', this.#path, this.#req);
      if (current.spec?.holderIdentity === this.#o.identity)
        await this.#rest.request('PUT', this.#path, {
          body: {
            ...current,
            spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
          },
          ...this.#req,
        });
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'cannot release leader lease');
    }
  }
}
