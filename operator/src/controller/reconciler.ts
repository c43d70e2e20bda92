// The reconcile logic, level-based and idempotent. Three kinds of keys share one work queue:
//   render                      read every cached object -> render -> apply the ConfigMap and Secret
//                               (skipped when unchanged) -> queue the status of every object
//   programmed                  re-evaluate the replica Leases against the rendered hash
//   status/<Kind>/<ns>/<name>   fetch (gone -> done) and write that object's conditions if they differ
// Side effects (the output objects) are separate from status writes, and each retries on its own.
import type { Logger } from 'pino';
import type { KubeRest } from '../../../dataplane/src/k8s/kube_rest.ts';
import { API_VERSION, type Resource } from '../api/common.ts';
import { kindByName } from '../api/crd.ts';
import { renderChecked } from '../render/preflight.ts';
import type { RenderResult } from '../render/render.ts';
import type { Inventory, Outcome, RenderOptions, SecretEntries, Verdict } from '../render/types.ts';
import type { EventRecorder } from './events.ts';
import type { Informer } from './informers.ts';
import type { OperatorMetrics } from './metrics.ts';
import { type OutputOptions, writeOutputs } from './outputs.ts';
import { type LeaseObject, programmedVerdict, replicaStates } from './programmed.ts';
import type { SecretReads } from './secret_reads.ts';
import { buildStatus, sameStatus, transitions } from './status.ts';
import { writeStatus } from './status_writer.ts';
import type { WorkQueue } from './workqueue.ts';

export interface SecretObject {
  metadata: { name?: string; namespace?: string };
  data?: Record<string, string>;
}

export interface Caches {
  AIProvider: Informer<Resource<unknown>>;
  AIRoute: Informer<Resource<unknown>>;
  AINamespace: Informer<Resource<unknown>>;
  AIPolicy: Informer<Resource<unknown>>;
  /** only the referenced Secrets, read by name (secret_reads.ts) */
  secrets: SecretReads;
  leases: Informer<LeaseObject>;
}

export interface ReconcilerOptions {
  output: OutputOptions;
  render: RenderOptions;
}

export interface Stats {
  renders: number;
  configMapWrites: number;
  secretWrites: number;
  statusWrites: number;
}

interface LastRender {
  result: RenderResult;
  byKey: Map<string, Outcome>;
  secretsRead: Set<string>;
}

export class Reconciler {
  readonly stats: Stats = { renders: 0, configMapWrites: 0, secretWrites: 0, statusWrites: 0 };
  last: LastRender | undefined;
  programmed: Verdict = { ok: false, reason: 'Pending', message: 'not evaluated yet' };
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #events: EventRecorder;
  readonly #caches: Caches;
  readonly #o: ReconcilerOptions;

  constructor(
    rest: KubeRest,
    log: Logger,
    metrics: OperatorMetrics,
    events: EventRecorder,
    caches: Caches,
    o: ReconcilerOptions,
  ) {
    this.#rest = rest;
    this.#log = log;
    this.#metrics = metrics;
    this.#events = events;
    this.#caches = caches;
    this.#o = o;
  }

  /** Is this Secret one the last render read (or tried to)? Other Secrets do not matter. */
  secretMatters(namespace: string, name: string): boolean {
    return !this.last || this.last.secretsRead.has(`${namespace}/${name}`);
  }

  async reconcile(key: string, queue: WorkQueue): Promise<void> {
    const controller = key === 'render' || key === 'programmed' ? key : 'status';
    const end = this.#metrics.duration.startTimer({ controller });
    try {
      if (key === 'render') await this.#render(queue);
      else if (key === 'programmed') this.#programmed(queue);
      else await this.#status(key.slice('status/'.length));
      this.#metrics.reconciles.inc({ controller, result: 'success' });
    } catch (err) {
      this.#metrics.reconciles.inc({ controller, result: 'error' });
      this.#metrics.errors.inc({ controller });
      throw err;
    } finally {
      end();
    }
  }

  #inventory(secretsRead: Set<string>): Inventory {
    const c = this.#caches;
    const list = <T>(inf: Informer<Resource<unknown>>) => inf.list() as unknown as T[];
    const secrets = {
      get: (key: string): SecretEntries | undefined => {
        secretsRead.add(key);
        const [ns = '', name = ''] = key.split('/');
        const s = c.secrets.get(ns, name);
        if (!s) return undefined;
        const out: SecretEntries = {};
        for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
        return out;
      },
    };
    return {
      providers: list(c.AIProvider),
      routes: list(c.AIRoute),
      namespaces: list(c.AINamespace),
      policies: list(c.AIPolicy),
      secrets,
    };
  }

  async #render(queue: WorkQueue): Promise<void> {
    let secretsRead = new Set<string>();
    let result = await renderChecked(this.#inventory(secretsRead), this.#o.render);
    // Secrets are read by name: the ones this render met for the first time are fetched, then it
    // renders again, so a new object is not reported SecretNotFound for one round
    for (let i = 0; i < 3 && (await this.#caches.secrets.fetchMissing(secretsRead)); i++) {
      secretsRead = new Set<string>();
      result = await renderChecked(this.#inventory(secretsRead), this.#o.render);
    }
    this.stats.renders++;
    if (result.configText) {
      const report = await writeOutputs(this.#rest, result, this.#o.output);
      this.#metrics.renderedBytes.set({ object: 'configmap' }, report.configMapBytes);
      this.#metrics.renderedBytes.set({ object: 'secret' }, report.secretBytes);
      if (report.secretWritten) {
        this.stats.secretWrites++;
        this.#metrics.writes.inc({ object: 'secret' });
      }
      if (report.configMapWritten) {
        this.stats.configMapWrites++;
        this.#metrics.writes.inc({ object: 'configmap' });
        this.#log.info({ hash: result.hash, bytes: report.configMapBytes }, 'dataplane config written');
      }
    } else {
      // never write an unservable config: the dataplanes keep their last one, and status says why
      this.#log.warn({ reason: result.emptyReason }, 'nothing to render; output left as it is');
    }
    this.last = { result, byKey: new Map(result.outcomes.map((o) => [o.key, o])), secretsRead };
    this.#metrics.objects.reset();
    for (const o of result.outcomes)
      this.#metrics.objects.inc({ kind: o.kind, accepted: String(o.accepted.ok) });
    this.#programmed(queue, true);
  }

  #programmed(queue: WorkQueue, force = false): void {
    const result = this.last?.result;
    const verdict: Verdict =
      result && !result.configText
        ? {
            ok: false,
            reason: 'NoConfig',
            message: `nothing is rendered: ${result.emptyReason}; the dataplanes keep their last config`,
          }
        : programmedVerdict(result?.hash ?? '', replicaStates(this.#caches.leases.list()));
    const changed = verdict.reason !== this.programmed.reason || verdict.message !== this.programmed.message;
    this.programmed = verdict;
    if (changed || force) for (const key of this.last?.byKey.keys() ?? []) queue.add(`status/${key}`);
  }

  async #status(objectKey: string): Promise<void> {
    const [kind = '', ns = '', name = ''] = objectKey.split('/');
    const def = kindByName(kind);
    const cache = this.#caches[kind as keyof Caches] as Informer<Resource<unknown>> | undefined;
    if (!def || !cache) return;
    const cached = cache.get(ns, name);
    const outcome = this.last?.byKey.get(objectKey);
    // gone, or changed since the last render (a render is queued and will queue this key again)
    if (!cached || !outcome || outcome.generation !== (cached.metadata.generation ?? 0)) return;
    const programmed = this.programmed;
    if (sameStatus(cached.status, buildStatus(outcome, programmed, cached.status))) return;
    let before: Resource<unknown>['status'];
    let after: Resource<unknown>['status'];
    const res = await writeStatus(this.#rest, API_VERSION, def.plural, ns, name, (live) => {
      if ((live.metadata.generation ?? 0) !== outcome.generation) return undefined;
      const next = buildStatus(outcome, programmed, live.status);
      if (sameStatus(live.status, next)) return undefined;
      before = live.status;
      after = next;
      return next;
    });
    if (res === 'stale') throw new Error(`status of ${objectKey}: still conflicting after retries`);
    if (res !== 'written' || !after) return;
    this.stats.statusWrites++;
    this.#metrics.statusWrites.inc();
    this.#log.debug({ object: objectKey, before, after }, 'status written');
    for (const c of transitions(before, after)) {
      if (c.type === 'Ready') continue;
      const warn = c.status === 'False' && c.type !== 'Programmed';
      await this.#events.emit(
        cached,
        warn ? 'Warning' : 'Normal',
        c.reason,
        `${c.type}=${c.status}: ${c.message}`,
      );
    }
  }
}
