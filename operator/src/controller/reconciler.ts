// The reconcile logic, level-based and idempotent. Two kinds of keys, on two queues (operator.ts):
//   render                      read every cached object -> render -> stamp the revision -> apply the
//                               ConfigMap and Secret (skipped when unchanged) -> queue the status of
//                               the objects whose outcome or Programmed verdict changed
//   status/<Kind>/<ns>/<name>   compare with the cached object and write its conditions if they differ
// Programmed is re-evaluated without a queue (evaluateProgrammed: no API calls) on Lease events.
// Side effects (the output objects) are separate from status writes, and each retries on its own.
import type { Logger } from 'pino';
import { isNotFound, type KubeRest } from '../../../kube/kube_rest.ts';
import { API_VERSION, type Resource } from '../api/common.ts';
import { kindByName } from '../api/crd.ts';
import { renderChecked } from '../render/preflight.ts';
import { RenderReuse } from '../render/reuse.ts';
import {
  type Inventory,
  keyOf,
  type Outcome,
  type RenderOptions,
  type SecretEntries,
  type Verdict,
} from '../render/types.ts';
import type { EventRecorder } from './events.ts';
import type { Informer } from './informers.ts';
import { LastAccepted } from './last_accepted.ts';
import type { OperatorMetrics } from './metrics.ts';
import { type OutputOptions, writeOutputs } from './outputs.ts';
import {
  type LeaseObject,
  liveReplicas,
  objectProgrammed,
  type ReplicaState,
  replicaStates,
} from './programmed.ts';
import { nextRevision, type RevisionState, revisionFromConfigMap, stampResult } from './revision.ts';
import type { SecretReads } from './secret_reads.ts';
import { buildStatus, eventsFor, sameStatus } from './status.ts';
import { writeStatus } from './status_writer.ts';
import { summarize } from './summary.ts';
import type { WorkQueue } from './workqueue.ts';

export interface SecretObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string; deletionTimestamp?: string };
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

/**
 * What later reconciles need of the last render. Not the render itself: its config, text and Secret
 * data (a few MB at 2,000 routes) would otherwise stay alive beside the next render's.
 */
interface LastRender {
  /** a config was rendered (else the output was left as it was, for `emptyReason`) */
  rendered: boolean;
  emptyReason?: string;
  /** the hash and revision of the config written */
  hash: string;
  revision: number;
  byKey: Map<string, Outcome>;
  secretsRead: Set<string>;
}

export class Reconciler {
  readonly stats: Stats = { renders: 0, configMapWrites: 0, secretWrites: 0, statusWrites: 0 };
  last: LastRender | undefined;
  /** each object's Programmed verdict, as last evaluated */
  readonly #programmed = new Map<string, Verdict>();
  #revision: RevisionState | undefined;
  /** the live ConfigMap's revision was read (once per leadership, before the first write) */
  #revisionLoaded = false;
  readonly #lastAccepted = new LastAccepted();
  /** kept between renders so one change costs about one object (render/reuse.ts) */
  readonly #reuse = new RenderReuse();
  /** each referenced Secret decoded once per resourceVersion (its API-key hashes hang off it) */
  readonly #decoded = new Map<string, { version: string; entries: SecretEntries }>();
  readonly #rest: KubeRest;
  readonly #log: Logger;
  readonly #metrics: OperatorMetrics;
  readonly #events: EventRecorder;
  readonly #caches: Caches;
  readonly #o: ReconcilerOptions;
  readonly #renderOptions: RenderOptions;

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
    this.#renderOptions = { ...o.render, reuse: this.#reuse };
  }

  /** Release what is kept between renders (the preflight's folder of secret files). */
  close(): Promise<void> {
    return this.#reuse.close();
  }

  /** A new term as leader: another leader may have written since, so nothing remembered holds. */
  startLeading(): void {
    this.#revisionLoaded = false;
    this.#revision = undefined;
    this.#programmed.clear();
    this.#lastAccepted.clear();
    this.last = undefined;
  }

  /** Is this Secret one the last render read (or tried to)? Other Secrets do not matter. */
  secretMatters(namespace: string, name: string): boolean {
    return !this.last || this.last.secretsRead.has(`${namespace}/${name}`);
  }

  async reconcile(key: string, statusQueue: WorkQueue): Promise<void> {
    const controller = key === 'render' ? key : 'status';
    const end = this.#metrics.duration.startTimer({ controller });
    try {
      if (key === 'render') await this.#render(statusQueue);
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
    // an object being deleted (held by a finalizer) is gone for the gateway: deleting an AINamespace
    // or a Secret of API keys revokes them now, not when some other controller lets go of it
    const list = <T>(inf: Informer<Resource<unknown>>) =>
      inf.list().filter((o) => !o.metadata.deletionTimestamp) as unknown as T[];
    const secrets = {
      get: (key: string): SecretEntries | undefined => {
        secretsRead.add(key);
        const [ns = '', name = ''] = key.split('/');
        const s = c.secrets.get(ns, name);
        if (!s || s.metadata.deletionTimestamp) return undefined;
        const version = s.metadata.resourceVersion;
        const known = this.#decoded.get(key);
        if (version && known?.version === version) return known.entries;
        const out: SecretEntries = {};
        for (const [k, v] of Object.entries(s.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
        if (version) this.#decoded.set(key, { version, entries: out });
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

  async #render(statusQueue: WorkQueue): Promise<void> {
    let secretsRead = new Set<string>();
    let inv = this.#inventory(secretsRead);
    let result = await renderChecked(inv, this.#renderOptions);
    // Secrets are read by name: the ones this render met for the first time are fetched, then it
    // renders again, so a new object is not reported SecretNotFound for one round
    for (let i = 0; i < 3 && (await this.#caches.secrets.fetchMissing(secretsRead)); i++) {
      secretsRead = new Set<string>();
      inv = this.#inventory(secretsRead);
      result = await renderChecked(inv, this.#renderOptions);
    }
    // which generation of each object the config carries (a held-back route: its last accepted one)
    let rendered = result.outcomes;
    const held = this.#lastAccepted.heldBack(result, inv);
    if (held.size > 0) {
      const routes = inv.routes.map((r) => held.get(keyOf('AIRoute', r)) ?? r);
      const second = await renderChecked({ ...inv, routes }, this.#renderOptions);
      rendered = second.outcomes;
      result = this.#lastAccepted.merge(result, second, held);
    }
    this.#lastAccepted.record(result.outcomes, inv);
    for (const key of this.#decoded.keys()) if (!secretsRead.has(key)) this.#decoded.delete(key);
    this.stats.renders++;
    if (result.configText) {
      if (!this.#revisionLoaded) {
        this.#revision = await liveRevision(this.#rest, this.#o.output);
        this.#revisionLoaded = true;
      }
      const served = new Map(rendered.filter((o) => o.accepted.ok).map((o) => [o.key, o.generation]));
      this.#revision = nextRevision(this.#revision, result.configText, served);
      result = stampResult(result, this.#revision);
      const report = await writeOutputs(this.#rest, result, this.#o.output, this.#reuse.secretEncoding);
      this.#metrics.renderedBytes.set({ object: 'configmap' }, report.configMapBytes);
      this.#metrics.renderedBytes.set({ object: 'secret' }, report.secretBytes);
      if (report.secretWritten) {
        this.stats.secretWrites++;
        this.#metrics.writes.inc({ object: 'secret' });
      }
      if (report.configMapWritten) {
        this.stats.configMapWrites++;
        this.#metrics.writes.inc({ object: 'configmap' });
        this.#log.info(
          { hash: result.hash, revision: this.#revision.revision, bytes: report.configMapBytes },
          'dataplane config written',
        );
      }
    } else {
      // never write an unservable config: the dataplanes keep their last one, and status says why
      this.#log.warn({ reason: result.emptyReason }, 'nothing to render; output left as it is');
    }
    const before = this.last?.byKey;
    this.last = {
      rendered: result.configText !== '',
      emptyReason: result.emptyReason,
      hash: result.hash,
      revision: result.config?.revision ?? 0,
      byKey: new Map(result.outcomes.map((o) => [o.key, o])),
      secretsRead,
    };
    this.#metrics.objects.reset();
    for (const o of result.outcomes)
      this.#metrics.objects.inc({ kind: o.kind, accepted: String(o.accepted.ok) });
    this.evaluateProgrammed(statusQueue, before);
  }

  /**
   * Re-evaluate every object's Programmed against the replica Leases (on a Lease event, on a timer
   * for expiry, after a render) and queue a status write for exactly the objects whose verdict or
   * render outcome changed. Cheap: no API calls, a few comparisons per object.
   */
  evaluateProgrammed(statusQueue: WorkQueue, before?: ReadonlyMap<string, Outcome>): void {
    const last = this.last;
    if (!last) return;
    const live = liveReplicas(replicaStates(this.#caches.leases.list()));
    for (const [key, outcome] of last.byKey) {
      const verdict = this.#programmedOf(outcome, live);
      const prev = this.#programmed.get(key);
      this.#programmed.set(key, verdict);
      const outcomeChanged =
        before !== undefined && outcomeDigest(before.get(key)) !== outcomeDigest(outcome);
      if (!outcomeChanged && prev?.reason === verdict.reason && prev.message === verdict.message) continue;
      // still Pending, only fewer replicas to wait for: coalesced, since the next Lease report
      // usually follows within milliseconds (one write per replica would be noise)
      if (!outcomeChanged && prev?.reason === 'Pending' && verdict.reason === 'Pending')
        statusQueue.addAfter(`status/${key}`, PENDING_UPDATE_DELAY_MS);
      else statusQueue.add(`status/${key}`);
    }
    for (const key of this.#programmed.keys()) if (!last.byKey.has(key)) this.#programmed.delete(key);
  }

  #programmedOf(outcome: Outcome, live: ReplicaState[]): Verdict {
    const last = this.last;
    if (last && !last.rendered)
      return {
        ok: false,
        reason: 'NoConfig',
        message: `nothing is rendered: ${last.emptyReason}; the dataplanes keep their last config`,
      };
    const entry = this.#revision?.objects[outcome.key];
    if (!entry)
      return { ok: false, reason: 'NotAccepted', message: 'not part of the rendered config (see Accepted)' };
    if (!outcome.accepted.ok || entry[0] !== outcome.generation)
      return {
        ok: false,
        reason: 'ServingLastAccepted',
        message: `generation ${outcome.generation} is not accepted (see Accepted); the config carries generation ${entry[0]}, the last accepted`,
      };
    return objectProgrammed(entry[0], entry[1], live);
  }

  async #status(objectKey: string): Promise<void> {
    const [kind = '', ns = '', name = ''] = objectKey.split('/');
    const def = kindByName(kind);
    const cache = this.#caches[kind as keyof Caches] as Informer<Resource<unknown>> | undefined;
    if (!def || !cache) return;
    const cached = cache.get(ns, name);
    const outcome = this.last?.byKey.get(objectKey);
    const programmed = this.#programmed.get(objectKey);
    // gone, or changed since the last render (a render is queued and will queue this key again)
    if (!cached || !outcome || !programmed || outcome.generation !== (cached.metadata.generation ?? 0))
      return;
    const summary = summarize(outcome.kind, cached.spec);
    if (sameStatus(cached.status, buildStatus(outcome, programmed, cached.status, undefined, summary)))
      return;
    let before: Resource<unknown>['status'];
    let after: Resource<unknown>['status'];
    const res = await writeStatus(
      this.#rest,
      API_VERSION,
      def.plural,
      ns,
      name,
      (live) => {
        if ((live.metadata.generation ?? 0) !== outcome.generation) return undefined;
        const next = buildStatus(outcome, programmed, live.status, undefined, summary);
        if (sameStatus(live.status, next)) return undefined;
        before = live.status;
        after = next;
        return next;
      },
      5,
      cached,
    );
    if (res === 'stale') throw new Error(`status of ${objectKey}: still conflicting after retries`);
    if (res !== 'written' || !after) return;
    this.stats.statusWrites++;
    this.#metrics.statusWrites.inc();
    this.#log.debug({ object: objectKey, before, after }, 'status written');
    for (const e of eventsFor(before, after)) await this.#events.emit(cached, e.type, e.reason, e.message);
  }
}

const PENDING_UPDATE_DELAY_MS = 500;

/** The parts of an outcome that its status shows: when they change, the status may need a write. */
function outcomeDigest(o: Outcome | undefined): string {
  return o ? JSON.stringify([o.generation, o.accepted, o.resolvedRefs, o.suspended]) : '';
}

async function liveRevision(rest: KubeRest, o: OutputOptions): Promise<RevisionState | undefined> {
  const path = `/api/v1/namespaces/${o.namespace}/configmaps/${o.configMapName}`;
  try {
    const cm = await rest.request<{ data?: Record<string, string> }>('GET', path);
    return revisionFromConfigMap(cm.data);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
