// The operator process: informers for the four kinds, the Secrets they reference and the replica
// Leases; two work queues (renders, and status writes: a render never waits behind status writes);
// leader election; metrics and health endpoints; graceful shutdown.
// Informers run on every replica (warm caches, readiness), only the leader reconciles and writes.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { type KubeAuth, KubeRest } from '../../../kube/kube_rest.ts';
import { REPLICA_LABEL } from '../../../kube/replica_lease.ts';
import { API_VERSION, type Resource } from '../api/common.ts';
import { KINDS } from '../api/crd.ts';
import type { RenderOptions } from '../render/types.ts';
import { EventRecorder } from './events.ts';
import { type EventKind, Informer } from './informers.ts';
import { LeaderElector } from './leader.ts';
import { OperatorMetrics, serveMetrics } from './metrics.ts';
import type { OwnerReference } from './outputs.ts';
import type { LeaseObject } from './programmed.ts';
import { type Caches, Reconciler, type Stats } from './reconciler.ts';
import { SecretReads } from './secret_reads.ts';
import { runWorkers, WorkQueue } from './workqueue.ts';

export interface OperatorOptions {
  /** API server and credentials: kube_credentials.ts's loader (client-node's KubeConfig fits too) */
  kc: KubeAuth;
  log: Logger;
  /** namespaces whose custom resources are reconciled; undefined = all */
  namespaces?: string[];
  outputNamespace: string;
  configMapName?: string;
  secretName?: string;
  /**
   * namespaces whose Secrets the operator may read (by name, only those objects reference); default:
   * `namespaces` (undefined: any, as its RBAC allows; the chart always lists them)
   */
  secretNamespaces?: string[];
  /** how often referenced Secrets are fetched again to notice changes (default 30 s) */
  secretRefreshMs?: number;
  /** where the dataplane replicas keep their Leases (default: outputNamespace) */
  dataplaneNamespace?: string;
  /** where dataplanes mount the rendered Secret */
  secretsDir?: string;
  base?: RenderOptions['base'];
  /** every AIPolicy in this namespace applies to every tenant (RenderOptions.platformNamespace) */
  platformNamespace?: string;
  owner?: OwnerReference;
  fieldManager?: string;
  leaderElect?: boolean;
  leaseName?: string;
  /** leader election namespace (default: outputNamespace) */
  leaseNamespace?: string;
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** coalesce bursts of changes into one render */
  debounceMs?: number;
  /** how often replica Leases are re-checked for expiry */
  programmedResyncMs?: number;
  metricsPort?: number;
  metricsHost?: string;
  workers?: number;
  /** called when leadership is lost (the CLI exits so the pod restarts clean) */
  onLostLeadership?: () => void;
}

export class Operator {
  readonly metrics = new OperatorMetrics();
  readonly identity: string;
  readonly #o: OperatorOptions;
  readonly #rest: KubeRest;
  readonly #caches: Caches;
  readonly #reconciler: Reconciler;
  readonly #elector: LeaderElector | undefined;
  readonly #generations = new Map<string, number>();
  /** one key, 'render': adds while one is queued coalesce, so a burst of changes is one render */
  #renderQueue: WorkQueue | undefined;
  /** status/<Kind>/<ns>/<name> keys: one per object, deduplicated while waiting */
  #statusQueue: WorkQueue | undefined;
  #workers: Promise<unknown> | undefined;
  #resync: NodeJS.Timeout | undefined;
  #server: http.Server | undefined;
  #synced = false;
  #stopping = false;

  constructor(o: OperatorOptions) {
    this.#o = o;
    this.identity = o.identity ?? `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
    this.#rest = new KubeRest(o.kc);
    const inf = <T extends { metadata?: { name?: string } }>(
      source: string,
      apiVersion: string,
      plural: string,
      namespaces: readonly string[] | undefined,
      extra: { labelSelector?: string; fieldSelector?: string } = {},
    ) =>
      new Informer<T>(
        this.#rest,
        { apiVersion, plural, namespaces, ...extra },
        o.log,
        (kind, obj) => this.#onEvent(source, kind, obj as unknown as Resource<unknown>),
        {
          relisted: () => this.metrics.relists.inc({ resource: plural }),
          restarted: () => this.metrics.watchRestarts.inc({ resource: plural }),
        },
      );
    const crs = Object.fromEntries(
      KINDS.map((k) => [k.kind, inf<Resource<unknown>>(k.kind, API_VERSION, k.plural, o.namespaces)]),
    ) as Pick<Caches, 'AIProvider' | 'AIRoute' | 'AINamespace' | 'AIPolicy'>;
    this.#caches = {
      ...crs,
      // only referenced Secrets, by name, in the namespaces whose Secrets it may read (no cache of
      // the rest; RBAC needs `get` only)
      secrets: new SecretReads(
        this.#rest,
        o.log,
        {
          namespaces: o.secretNamespaces ?? o.namespaces,
          refreshMs: o.secretRefreshMs,
        },
        (kind, obj) => this.#onEvent('Secret', kind, obj as unknown as Resource<unknown>),
      ),
      leases: inf<LeaseObject>(
        'Lease',
        'coordination.k8s.io/v1',
        'leases',
        [o.dataplaneNamespace ?? o.outputNamespace],
        {
          labelSelector: `${REPLICA_LABEL}=true`,
        },
      ),
    };
    const fieldManager = o.fieldManager ?? 'sluice-operator';
    this.#reconciler = new Reconciler(
      this.#rest,
      o.log,
      this.metrics,
      new EventRecorder(this.#rest, o.log, this.identity),
      this.#caches,
      {
        output: {
          namespace: o.outputNamespace,
          configMapName: o.configMapName ?? 'sluice-config',
          secretName: o.secretName ?? 'sluice-secrets',
          fieldManager,
          owner: o.owner,
        },
        render: {
          secretsDir: o.secretsDir ?? '/etc/sluice/secrets',
          base: o.base,
          platformNamespace: o.platformNamespace,
        },
      },
    );
    if (o.leaderElect) {
      this.#elector = new LeaderElector(this.#rest, o.log, {
        namespace: o.leaseNamespace ?? o.outputNamespace,
        name: o.leaseName ?? 'sluice-operator',
        identity: this.identity,
        leaseDurationSeconds: o.leaseDurationSeconds,
        renewDeadlineMs: o.renewDeadlineMs,
        retryPeriodMs: o.retryPeriodMs,
        onStartedLeading: () => this.#startWorkers(),
        onStoppedLeading: () => {
          void this.#stopWorkers();
          o.onLostLeadership?.();
        },
      });
    }
  }

  get stats(): Stats {
    return this.#reconciler.stats;
  }

  get isLeader(): boolean {
    return this.#elector ? this.#elector.isLeader : this.#renderQueue !== undefined;
  }

  get lastHash(): string {
    return this.#reconciler.last?.hash ?? '';
  }

  /** the revision of the last rendered config (0 before the first) */
  get lastRevision(): number {
    return this.#reconciler.last?.revision ?? 0;
  }

  ready(): boolean {
    return this.#synced && !this.#stopping;
  }

  #onEvent(source: string, kind: EventKind, obj: Resource<unknown>): void {
    const q = this.#renderQueue;
    const sq = this.#statusQueue;
    if (!q || !sq) return; // not leading: the full render on election covers whatever happened meanwhile
    const debounce = this.#o.debounceMs ?? 50;
    const ns = obj.metadata?.namespace ?? '';
    const name = obj.metadata?.name ?? '';
    if (source === 'Lease') {
      this.#reconciler.evaluateProgrammed(sq);
      return;
    }
    if (source === 'Secret') {
      if (this.#reconciler.secretMatters(ns, name)) q.addAfter('render', debounce);
      return;
    }
    const key = `${source}/${ns}/${name}`;
    const gen = obj.metadata.generation ?? 0;
    if (kind === 'delete') this.#generations.delete(key);
    else if (kind === 'update' && this.#generations.get(key) === gen && !obj.metadata.deletionTimestamp) {
      // a status or metadata-only change: the spec is the same, only make sure the status is right
      sq.add(`status/${key}`);
      return;
    } else this.#generations.set(key, gen);
    q.addAfter('render', debounce);
  }

  async start(): Promise<void> {
    if (this.#o.metricsPort !== undefined)
      this.#server = await serveMetrics(
        this.metrics,
        { healthy: () => !this.#stopping, ready: () => this.ready() },
        this.#o.metricsPort,
        this.#o.metricsHost,
      );
    await Promise.all(Object.values(this.#caches).map((c: { start(): Promise<void> }) => c.start()));
    this.#synced = true;
    for (const c of [
      this.#caches.AIProvider,
      this.#caches.AIRoute,
      this.#caches.AINamespace,
      this.#caches.AIPolicy,
    ])
      for (const o of c.list())
        this.#generations.set(
          `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
          o.metadata.generation ?? 0,
        );
    if (this.#elector) this.#elector.start();
    else this.#startWorkers();
    this.#o.log.info(
      { identity: this.identity, namespaces: this.#o.namespaces ?? 'all' },
      'sluice operator started',
    );
  }

  get metricsAddress(): string | undefined {
    const a = this.#server?.address();
    return a && typeof a === 'object' ? `http://127.0.0.1:${a.port}` : undefined;
  }

  #startWorkers(): void {
    if (this.#renderQueue || this.#stopping) return;
    this.metrics.leader.set(1);
    this.#reconciler.startLeading();
    const rq = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 60_000 });
    const sq = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 60_000 });
    this.#renderQueue = rq;
    this.#statusQueue = sq;
    const onError = (key: string, err: unknown, retryInMs: number) =>
      this.#o.log.warn({ key, err: String(err), retryInMs }, 'reconcile failed; retrying');
    const handle = async (key: string) => {
      this.metrics.queueDepth.set({ queue: 'render' }, rq.length);
      this.metrics.queueDepth.set({ queue: 'status' }, sq.length);
      await this.#reconciler.reconcile(key, sq);
    };
    // one render worker (renders are whole-config and must not overlap), status writers in parallel
    this.#workers = Promise.all([
      runWorkers(rq, 1, handle, onError),
      runWorkers(sq, this.#o.workers ?? 4, handle, onError),
    ]);
    rq.add('render');
    // Lease expiry produces no watch event: re-check on a timer (no API calls, no writes unless changed)
    this.#resync = setInterval(
      () => this.#reconciler.evaluateProgrammed(sq),
      this.#o.programmedResyncMs ?? 5_000,
    );
    this.#resync.unref();
  }

  async #stopWorkers(): Promise<void> {
    this.metrics.leader.set(0);
    if (this.#resync) clearInterval(this.#resync);
    const queues = [this.#renderQueue, this.#statusQueue];
    this.#renderQueue = undefined;
    this.#statusQueue = undefined;
    for (const q of queues) q?.shutDown();
    await this.#workers;
    // a standby keeps no copy of the provider credentials on disk
    await this.#reconciler.close();
  }

  /** Graceful: finish the reconciles in flight, release leadership, stop watching, close endpoints. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#stopWorkers();
    await this.#elector?.stop();
    await Promise.all(Object.values(this.#caches).map((c: { stop(): Promise<void> }) => c.stop()));
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
