// The dataplane process: load config, serve, hot-reload atomically, drain on shutdown.
// Each request reads the runtime once at its start, so in-flight requests finish on the config they
// started with while new ones see the new config the moment it is swapped in.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildAdminServer } from './admin_server.ts';
import { type CompileOptions, compileRuntime, configDirOf, type Runtime } from './compiled/compile.ts';
import { ProviderRegistry, type ProviderRuntime } from './compiled/provider_runtime.ts';
import {
  decideReadiness,
  storeHealthOf,
  type WarmState,
  warmTokenizers,
  warmUp,
} from './compiled/readiness.ts';
import { ConfigError, parseConfigText, validateConfigSliced } from './config/load.ts';
import { ReuseCache } from './config/reuse_cache.ts';
import type { SluiceConfig } from './config/schema.ts';
import { Slicer } from './config/steps.ts';
import { ConfigWatcher, digestAll } from './config/watch.ts';
import { endpointSliceDiscovery } from './discovery/endpointslices.ts';
import { metrics, setEndpointCountSource } from './observability/metrics.ts';
import { applyTracing, stopTracing } from './observability/tracing.ts';
import { policyGateFactory } from './policy/gate.ts';
import { setEgressPolicy } from './proxy/egress.ts';
import { HealthChecker } from './proxy/health.ts';
import { setLogRedactor } from './security/redactor.ts';
import { buildServer } from './server.ts';

export interface DataplaneOptions {
  configFile: string;
  log: Logger;
  host?: string;
  port?: number;
  /** the admin listener (metrics, detailed readiness); defaults to the config's server.admin */
  adminHost?: string;
  adminPort?: number;
  gateFactory?: CompileOptions['gateFactory'];
  /** called after every successful (re)load with the config hash and the operator's revision, if any */
  onLoaded?: (hash: string, revision: number | undefined) => void;
}

export class Dataplane {
  readonly #opts: DataplaneOptions;
  readonly #state: ProviderRegistry;
  /** the policy engine unless a test injects another gate; its stores outlive config reloads */
  #policyGates: CompileOptions['gateFactory'];
  #runtime!: Runtime;
  /**
   * Entries, key tables and compiled routes of the last loads, reused when a reload's input for them
   * is unchanged (one changed route out of thousands recompiles one route). The new runtime is still
   * built whole before it is swapped in, and what it shares with the old one is immutable (config
   * entries, key tables) or shared on purpose (a compiled route's balancer and retry budget).
   */
  readonly #reuse = new ReuseCache();
  #app!: FastifyInstance;
  #watcher: ConfigWatcher | undefined;
  #health: HealthChecker | undefined;
  #draining = false;
  /** stop() has closed the runtime's gate: a load finishing now must not be swapped in */
  #closed = false;
  #lastError: string | undefined;
  #reloads = 0;
  /** set once the warm-up has run (compiled/readiness.ts): until then the replica is not ready */
  #warm: WarmState | undefined;
  /** the warm-up's private runtime, served only while it injects requests before listening */
  #warming: Runtime | undefined;
  address = '';
  /** the admin listener's address (admin_server.ts) */
  adminAddress = '';
  #admin: FastifyInstance | undefined;

  constructor(opts: DataplaneOptions) {
    this.#opts = opts;
    // providers naming a Kubernetes Service follow its EndpointSlices (credentials loaded when needed)
    this.#state = new ProviderRegistry(endpointSliceDiscovery(opts.log));
    setEndpointCountSource(() => this.#endpointCounts());
  }

  *#endpointCounts(): Iterable<[string, ReturnType<ProviderRuntime['endpoints']['counts']>]> {
    if (!this.#runtime) return;
    for (const p of this.#runtime.providers.values()) yield [p.name, p.endpoints.counts()];
  }

  get runtime(): Runtime {
    return this.#runtime;
  }

  /**
   * Text -> a complete Runtime, in slices of a few milliseconds (steps.ts): requests keep being served
   * on the current runtime meanwhile, and only see the new one once it is whole.
   */
  async #compile(text: string): Promise<Runtime> {
    const file = this.#opts.configFile;
    const slicer = new Slicer();
    this.#reuse.rotate();
    const raw = parseConfigText(text, file);
    // JSON.parse of a big config is the longest step that cannot be split: pause right after it
    await slicer.pause();
    const cfg: SluiceConfig = await validateConfigSliced(raw, file, slicer, this.#reuse);
    await slicer.checkpoint();
    return compileRuntime(cfg, {
      configDir: configDirOf(file),
      state: this.#state,
      gateFactory: this.#opts.gateFactory ?? this.#policyGateFactory(),
      slicer,
      cache: this.#reuse,
    });
  }

  /** One policy gate factory for the process, so stores and caches outlive reloads. */
  #policyGateFactory(): NonNullable<CompileOptions['gateFactory']> {
    this.#policyGates ??= policyGateFactory(this.#opts.log);
    return this.#policyGates;
  }

  async #secretsDigest(): Promise<string> {
    const parts = await Promise.all(
      this.#runtime.secretFiles.map((f) => readFile(f, 'utf8').catch(() => '')),
    );
    return parts.length ? digestAll(parts) : '';
  }

  async start(): Promise<string> {
    const { log } = this.#opts;
    const text = await readFile(this.#opts.configFile, 'utf8').catch((err: Error) => {
      throw new ConfigError(this.#opts.configFile, [{ path: '', message: `cannot read: ${err.message}` }]);
    });
    this.#runtime = await this.#compile(text);
    this.#markLoaded(this.#runtime);
    const cfg = this.#runtime.config;
    const state = {
      runtime: () => this.#warming ?? this.#runtime,
      draining: () => this.#draining,
      ready: () => this.#readiness(),
    };
    const apiPort = this.#opts.port ?? cfg.server.port;
    // an API port of 0 (any free port: tests, several replicas on one host) makes the admin port 0 too
    const adminPort = this.#opts.adminPort ?? (apiPort === 0 ? 0 : cfg.server.admin.port);
    if (adminPort !== 0 && adminPort === apiPort)
      throw new ConfigError(this.#opts.configFile, [
        { path: 'server.admin.port', message: `must differ from server.port (${apiPort})` },
      ]);
    // the API server logs through a child of its own, so the warm-up's access lines can be held back
    const apiLog = log.child({});
    this.#app = buildServer(state, apiLog, {
      bodyLimit: cfg.server.bodyLimitBytes,
      maxHeaderBytes: cfg.server.maxHeaderBytes,
      requestReceiveTimeoutMs: cfg.server.requestReceiveTimeoutMs,
    });
    this.#health = new HealthChecker(log);
    this.#health.update(this.#runtime);
    // warm before listening: the first request a load balancer sends finds tables loaded and code hot
    // SLUICE_WARMUP_HOT_PATH=off: the escape hatch (and the comparison arm of bench/warm_start.ts)
    const hotPath = process.env.SLUICE_WARMUP_HOT_PATH !== 'off';
    // Nothing but the warm-up reaches the API server before it listens, so its info lines (one access
    // line per warm-up request) are only the warm-up's: held back; warnings and errors still show.
    const apiLevel = apiLog.level;
    if (apiLog.isLevelEnabled('info')) apiLog.level = 'warn';
    try {
      this.#warm = await warmUp(
        this.#runtime,
        hotPath
          ? {
              app: this.#app,
              swap: (rt) => {
                this.#warming = rt;
              },
            }
          : undefined,
      );
    } finally {
      apiLog.level = apiLevel;
    }
    this.#logWarmUp(this.#warm);
    // only now: the warm-up's requests must not be exported as traces
    void applyTracing(this.#runtime, log);
    this.address = await this.#app.listen({ host: this.#opts.host ?? cfg.server.host, port: apiPort });
    this.#admin = buildAdminServer(state, log);
    this.adminAddress = await this.#admin.listen({
      host: this.#opts.adminHost ?? cfg.server.admin.host,
      port: adminPort,
    });
    const configDir = configDirOf(this.#opts.configFile);
    this.#watcher = new ConfigWatcher({
      file: this.#opts.configFile,
      extraDirs: this.#runtime.secretsDir !== configDir ? [this.#runtime.secretsDir] : [],
      // secret files kept beside the config (read per event: a reload may change which files those are)
      alsoWatched: (name) =>
        this.#runtime.secretFiles.some((f) => basename(f) === name && dirname(resolve(f)) === configDir),
      onChange: (t, reason) => this.#reload(t, reason),
      onError: (err) => log.warn({ err }, 'config watch error'),
    });
    this.#watcher.secretsDigestFn = () => this.#secretsDigest();
    this.#watcher.start(text, await this.#secretsDigest());
    log.info(
      {
        address: this.address,
        adminAddress: this.adminAddress,
        hash: this.#runtime.hash,
        routes: cfg.routes.length,
      },
      'sluice dataplane listening',
    );
    return this.address;
  }

  /** Re-read the config now (SIGHUP). */
  reloadNow(): Promise<void> {
    return this.#watcher?.trigger('signal') ?? Promise.resolve();
  }

  async #reload(text: string, reason: string): Promise<void> {
    const { log } = this.#opts;
    const t0 = performance.now();
    let next: Runtime;
    try {
      next = await this.#compile(text);
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      metrics.configReloads.inc({ result: 'failure' });
      metrics.configValid.set(0);
      log.error({ reason, error: this.#lastError }, 'config reload failed; keeping the last good config');
      return;
    }
    if (this.#closed) {
      // stop() finished while this load was running (it yields to the event loop) and closed only the
      // runtime it saw: release this one's store lease too
      await next.gate.close?.().catch(() => {});
      return;
    }
    // a reload may name models of another encoding: load its tables before requests need them
    if (this.#warm) this.#warm = { ...this.#warm, encodings: warmTokenizers(next) };
    const previous = this.#runtime;
    this.#runtime = next;
    this.#markLoaded(next);
    // tracing follows the config (on, off, new endpoint or sampling); off loads no OpenTelemetry code
    void applyTracing(next, log);
    this.#health?.update(next);
    log.info({ reason, hash: next.hash, ms: Math.round(performance.now() - t0) }, 'config reloaded');
    if (previous.gate !== next.gate) await previous.gate.close?.().catch(() => {});
    await this.#state.prune(new Set(next.providers.values()));
  }

  #markLoaded(rt: Runtime): void {
    // new upstream connections are checked against this config's egress policy from now on
    setEgressPolicy(rt.config.egress);
    this.#lastError = undefined;
    // log lines are scrubbed of this config's secrets from now on
    setLogRedactor(rt.redactor);
    this.#reloads++;
    metrics.configInfo.reset();
    metrics.configInfo.set({ hash: rt.hash }, 1);
    metrics.configValid.set(1);
    metrics.configLastGood.set(Date.now() / 1000);
    if (this.#reloads > 1) metrics.configReloads.inc({ result: 'success' });
    this.#opts.onLoaded?.(rt.hash, rt.config.revision);
  }

  #logWarmUp(warm: WarmState): void {
    const hot = warm.hotPath;
    if (hot?.failures)
      this.#opts.log.warn(
        { warm },
        'warm-up incomplete: ready anyway, the first requests may be slow (see failures)',
      );
    else
      this.#opts.log.info(
        { ms: warm.ms, encodings: warm.encodings, requests: hot?.requests, pairs: hot?.pairs },
        'warmed up',
      );
  }

  #readiness(): { ready: boolean; details: Record<string, unknown> } {
    const details: Record<string, unknown> = {
      configHash: this.#runtime.hash,
      configValid: this.#lastError === undefined,
      draining: this.#draining,
    };
    if (this.#lastError) details.configError = this.#lastError;
    const providers: Record<string, unknown> = {};
    for (const p of this.#runtime.providers.values()) {
      const eps = p.endpoints;
      providers[p.name] =
        p.resolved.config.endpoints === undefined
          ? { circuit: eps.list[0]?.breaker.state, healthy: p.healthy, suspended: p.suspended }
          : { endpoints: eps.counts(), healthy: p.healthy, suspended: p.suspended };
    }
    details.providers = providers;
    const gateHealth = this.#runtime.gate.health?.();
    if (gateHealth) details.policy = gateHealth;
    if (this.#warm) details.warm = this.#warm;
    const decision = decideReadiness({
      draining: this.#draining,
      warm: this.#warm,
      store: storeHealthOf(gateHealth),
    });
    if (decision.reason) details.notReady = decision.reason;
    return { ready: decision.ready, details };
  }

  /** Stop accepting, let in-flight requests and streams finish up to the drain deadline, then close. */
  async stop(): Promise<void> {
    this.#draining = true;
    this.#watcher?.close();
    this.#health?.stop();
    // Like a preStop sleep: keep serving (each response says connection: close, so clients move
    // their keep-alive connections elsewhere) before the listener closes and refuses new ones.
    const delay = this.#runtime.config.server.drainDelayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const deadline = this.#runtime.config.server.drainTimeoutMs;
    const closed = this.#app.close();
    // server.close() only closes connections idle at that moment; a keep-alive connection whose
    // stream finishes later would hold the drain open until its keep-alive timeout, so sweep.
    const sweep = setInterval(() => this.#app.server.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), deadline);
    });
    const result = await Promise.race([closed.then(() => 'closed' as const), timeout]);
    if (timer) clearTimeout(timer);
    clearInterval(sweep);
    if (result === 'timeout') {
      this.#opts.log.warn({ deadlineMs: deadline }, 'drain deadline passed; closing remaining connections');
      this.#app.server.closeAllConnections();
    }
    this.#closed = true;
    // the admin port answers (not ready) until the API port has drained
    await this.#admin?.close();
    await this.#runtime.gate.close?.().catch(() => {});
    await this.#state.closeAll();
    // the spans of the last requests are exported before the process goes
    await stopTracing(this.#opts.log);
  }
}
