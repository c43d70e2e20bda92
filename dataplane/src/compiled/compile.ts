// Config -> Runtime: everything the request path needs, decided once per config load.
// Secrets are read here (a missing secret fails the load, so the last good config keeps serving).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { configHash } from '../config/hash.ts';
import { ConfigError, decodeStoredText } from '../config/load.ts';
import type { ReuseCache } from '../config/reuse_cache.ts';
import type { ModelConfig, ProviderConfig, SecretSource, SluiceConfig, Timeouts } from '../config/schema.ts';
import { MAX_TIMER_MS } from '../config/schema_shared.ts';
import { missingSecrets, secretsDirFor } from '../config/secret_refs.ts';
import { Slicer, type Steps } from '../config/steps.ts';
import { metrics } from '../observability/metrics.ts';
import { rememberConfiguredModels } from '../observability/model_labels.ts';
import { getPreset } from '../providers/presets.ts';
import type { ResolvedProvider } from '../providers/types.ts';
import { type Gate, openGate } from '../proxy/policy_interface.ts';
import type { EffectiveTimeouts } from '../proxy/transport.ts';
import { Redactor } from '../security/redactor.ts';
import type { ProviderRegistry, ProviderRuntime } from './provider_runtime.ts';
import { rateLimitHeaderProviders } from './rate_limit_headers.ts';
import { type CompiledRoute, compileRoute } from './route.ts';

export interface Runtime {
  config: SluiceConfig;
  /** sha256 of the canonical config, reported in metrics and to the operator */
  hash: string;
  providers: ReadonlyMap<string, ProviderRuntime>;
  routes: CompiledRoute[];
  gate: Gate;
  secretsDir: string;
  /** every secret file this config read, so rotations trigger a reload */
  secretFiles: string[];
  /** removes this config's secrets (and key-shaped tokens) from anything bound for a client or a log */
  redactor: Redactor;
}

export interface CompileOptions {
  /** folder the config came from: the default base for relative secret files */
  configDir: string;
  state: ProviderRegistry;
  /** builds the policy gate for configs with namespaces (injected so the core does not depend on it) */
  gateFactory?: (
    cfg: SluiceConfig,
    readSecret: (s: SecretSource) => string,
    secretsDir: string,
    /** the load's slicer: long work in the factory pauses for the event loop the same way */
    slicer?: Slicer,
    /** the load's reuse cache (key tables), when the caller keeps one across loads */
    cache?: ReuseCache,
  ) => Gate | Promise<Gate>;
  env?: NodeJS.ProcessEnv;
  /** pauses between slices of work so a big config never holds the event loop (a new one if absent) */
  slicer?: Slicer;
  /** work reused from earlier loads whose input is unchanged (reuse_cache.ts) */
  cache?: ReuseCache;
}

/** Routes compiled between two pause points. */
const ROUTES_PER_STEP = 50;

interface ReusableRoute {
  route: CompiledRoute;
  /** what it was compiled against: its providers' runtimes and which of them were suspended */
  uses: ProviderRuntime[];
  suspended: boolean[];
}

function* compileRouteSteps(
  config: SluiceConfig,
  providers: ReadonlyMap<string, ProviderRuntime>,
  cache: ReuseCache | undefined,
): Steps<CompiledRoute[]> {
  const routes: CompiledRoute[] = [];
  const suspended = new Set(config.providers.filter((p) => p.suspended).map((p) => p.name));
  for (const [i, r] of config.routes.entries()) {
    if (i % ROUTES_PER_STEP === ROUTES_PER_STEP - 1) yield;
    // An unchanged entry (the same parsed object, see reuse_cache.ts) whose providers are the same
    // live runtimes in the same degrade state compiles to an equivalent route: keep the compiled one
    // (and with it its balancer position and retry budget, which a reload elsewhere should not reset).
    const names = [...r.backends, ...r.fallback].map((b) => b.provider);
    const uses = names.map((n) => providers.get(n) as ProviderRuntime);
    const off = names.map((n) => suspended.has(n));
    const known = cache?.derived.get(r) as ReusableRoute | undefined;
    if (known && sameItems(known.uses, uses) && sameItems(known.suspended, off)) {
      routes.push(known.route);
      continue;
    }
    const route = compileRoute(r, providers, undefined, suspended);
    cache?.derived.set(r, { route, uses, suspended: off } satisfies ReusableRoute);
    routes.push(route);
  }
  return routes;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const DEFAULT_TIMEOUTS: EffectiveTimeouts = {
  connectMs: 5_000,
  firstByteMs: 60_000,
  idleMs: 30_000,
  totalMs: 600_000,
};

/**
 * Timeouts held at the longest delay a timer can hold: a longer one fired after 1 ms, so a 1000-hour
 * total timeout, an operator's way of saying "no limit", failed every request at once.
 */
export function effectiveTimeouts(...layers: Array<Timeouts | undefined>): EffectiveTimeouts {
  const t = { ...DEFAULT_TIMEOUTS };
  for (const l of layers) {
    if (!l) continue;
    if (l.connectMs) t.connectMs = Math.min(l.connectMs, MAX_TIMER_MS);
    if (l.firstByteMs) t.firstByteMs = Math.min(l.firstByteMs, MAX_TIMER_MS);
    if (l.idleMs) t.idleMs = Math.min(l.idleMs, MAX_TIMER_MS);
    if (l.totalMs) t.totalMs = Math.min(l.totalMs, MAX_TIMER_MS);
  }
  return t;
}

export function makeSecretReader(
  secretsDir: string,
  env: NodeJS.ProcessEnv,
  filesRead: string[] = [],
): (s: SecretSource, path?: string) => string {
  return (s, path = 'secret') => {
    if ('env' in s) {
      const v = env[s.env];
      if (v === undefined || v === '')
        throw new ConfigError('secrets', [{ path, message: `environment variable ${s.env} is not set` }]);
      return v;
    }
    const file = isAbsolute(s.file) ? s.file : resolve(secretsDir, s.file);
    filesRead.push(file);
    try {
      // large values (API-key lists) may be stored compressed by the operator
      return decodeStoredText(readFileSync(file, 'utf8')).trim();
    } catch (err) {
      throw new ConfigError('secrets', [
        { path, message: `cannot read secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}` },
      ]);
    }
  };
}

export function resolveProvider(
  p: ProviderConfig,
  i: number,
  readSecret: (s: SecretSource, path?: string) => string,
): ResolvedProvider {
  const preset = getPreset(p.type);
  if (!preset)
    throw new ConfigError('config', [
      { path: `providers[${i}].type`, message: `unsupported provider type "${p.type}"` },
    ]);
  // Presets such as bedrock carry the region in their host (https://bedrock-runtime.{region}.amazonaws.com).
  const baseUrl = (p.baseUrl ?? preset.defaultBaseUrl ?? '')
    .replaceAll('{region}', p.region ?? '')
    .replace(/\/+$/, '');
  const url = new URL(baseUrl);
  const credentials: Record<string, string> = {};
  for (const [k, src] of Object.entries(p.credentials ?? {})) {
    credentials[k] = readSecret(src, `providers[${i}].credentials.${k}`);
  }
  const models = new Map<string, ModelConfig>(p.models.map((m) => [m.name, m]));
  return {
    name: p.name,
    config: p,
    preset,
    baseUrl,
    origin: url.origin,
    // endpoints (pods) share one API path: their own basePath, else the URL's
    basePath: (p.endpoints?.basePath ?? url.pathname).replace(/\/+$/, ''),
    credentials: Object.freeze(credentials),
    models,
  };
}

/**
 * Build the runtime for a config in slices (the slicer pauses between them for requests). Nothing the
 * current runtime shares (provider pools, breakers, their settings) changes before the last,
 * synchronous step, so requests still served by the old runtime never see part of the new one, and a
 * load that fails on the way leaves everything as it was.
 */
export async function compileRuntime(config: SluiceConfig, opts: CompileOptions): Promise<Runtime> {
  const slicer = opts.slicer ?? new Slicer();
  const secretsDir = secretsDirFor(config, opts.configDir);
  // every unset variable and unreadable file in one error, not one per reload attempt
  const missing = missingSecrets(config, secretsDir, opts.env ?? process.env);
  if (missing.length) throw new ConfigError('secrets', missing);
  const secretFiles: string[] = [];
  const readSecret = makeSecretReader(secretsDir, opts.env ?? process.env, secretFiles);
  const providers = new Map<string, ProviderRuntime>();
  const applyProviders: Array<() => void> = [];
  const passRateLimits = rateLimitHeaderProviders(config);
  config.providers.forEach((p, i) => {
    const resolved = resolveProvider(p, i, readSecret);
    resolved.passRateLimitHeaders = passRateLimits.has(p.name);
    const timeouts = effectiveTimeouts(config.server.timeouts, p.timeouts);
    const prepared = opts.state.prepare(resolved, timeouts);
    providers.set(p.name, prepared.runtime);
    applyProviders.push(prepared.apply);
  });
  await slicer.checkpoint();
  const routes = await slicer.run(compileRouteSteps(config, providers, opts.cache));
  // Fail closed: only a config that says `access: open` serves callers without a tenant; with no
  // namespaces and `access: tenants`, the policy engine refuses every request (401).
  const open = config.access === 'open';
  if (!open && !opts.gateFactory) {
    // Never serve a tenant config without enforcing it.
    throw new ConfigError('config', [
      { path: 'namespaces', message: 'namespaces require the policy engine (gateFactory)' },
    ]);
  }
  const gate =
    opts.gateFactory && !open
      ? await opts.gateFactory(config, readSecret, secretsDir, slicer, opts.cache)
      : openGate;
  // hashing the whole config is one step that cannot be split: start it on a fresh slice, and apply
  // the provider settings in the same synchronous stretch that hands the runtime over
  await slicer.pause();
  const hash = configHash(config);
  for (const apply of applyProviders) apply();
  rememberConfiguredModels(config);
  publishSuspended(routes);
  const redactor = buildRedactor(config, providers, makeSecretReader(secretsDir, opts.env ?? process.env));
  return { config, hash, providers, routes, gate, secretsDir, secretFiles, redactor };
}

/**
 * The redactor for this config: every provider credential, plus the other secrets that are values
 * rather than lists or certificates (the Redis password, JWT shared secrets).
 */
function buildRedactor(
  config: SluiceConfig,
  providers: ReadonlyMap<string, ProviderRuntime>,
  readSecret: (s: SecretSource, path?: string) => string,
): Redactor {
  const byProvider = new Map<string, string[]>();
  for (const p of providers.values()) byProvider.set(p.name, Object.values(p.resolved.credentials));
  const sources: SecretSource[] = [];
  if (config.store.redis?.password) sources.push(config.store.redis.password);
  for (const ns of config.namespaces) if (ns.match.jwt?.secret) sources.push(ns.match.jwt.secret);
  const other = sources.map((s) => readSecret(s));
  return new Redactor({ providers: byProvider, other });
}

/** sluice_backend_suspended: one series per route backend the degrade switch took out. */
function publishSuspended(routes: CompiledRoute[]): void {
  metrics.backendSuspended.reset();
  for (const r of routes)
    for (const p of r.suspended) metrics.backendSuspended.set({ route: r.name, provider: p }, 1);
}

export function configDirOf(file: string): string {
  return dirname(resolve(file));
}
