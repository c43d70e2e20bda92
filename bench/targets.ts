// The targets: direct (client -> mock), Sluice (bare and with the full policy stack), Portkey and
// LiteLLM, each started pinned to the gateway core, pointed at the same mock, and described by the
// endpoint + headers a client uses. Every process is started here and stopped by its own PID group.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, GATEWAY_CORE, started, startPinned } from './procs.ts';
import { ensureLitellm, VENV } from './setup_litellm.ts';
import type { TargetEndpoint } from './verify.ts';
import { MODEL, UPSTREAM_KEY } from './workload.ts';

export const REPO = resolve(import.meta.dirname, '..');
/** How long a target may take to listen (raise it to run one under valgrind or a profiler). */
const START_TIMEOUT_MS = Number(process.env.BENCH_START_TIMEOUT_MS ?? 30_000);

/**
 * The Node options and environment the dataplane image ships (the `ENV` line of Dockerfile.dataplane,
 * which the chart's `dataplane.nodeOptions` repeats; test/chart keeps the two equal), so the benchmark
 * measures exactly what runs in a pod. BENCH_SLUICE_NODE_FLAGS overrides the flags to try others.
 */
function shippedEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile.dataplane'), 'utf8');
  const line = /^ENV (.*NODE_OPTIONS=.*)$/m.exec(dockerfile)?.[1];
  if (!line) throw new Error('Dockerfile.dataplane has no ENV line with NODE_OPTIONS');
  const env: Record<string, string> = {};
  for (const m of line.matchAll(/(\w+)=("([^"]*)"|\S+)/g)) env[m[1] as string] = m[3] ?? (m[2] as string);
  return env;
}
const SHIPPED = shippedEnv();
export const SLUICE_NODE_FLAGS: string[] = (process.env.BENCH_SLUICE_NODE_FLAGS ?? SHIPPED.NODE_OPTIONS ?? '')
  .split(' ')
  .filter(Boolean);
export const SLUICE_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(SHIPPED).filter(([k]) => k !== 'NODE_OPTIONS'),
);

export interface BenchContext {
  mockPort: number;
  tmpDir: string;
  redisPort?: number;
  /** extra node flags for Sluice (e.g. --cpu-prof while profiling) */
  sluiceExtraFlags?: string[];
  /** a checkout to run Sluice from instead of this one (A/B comparisons of a change), from its sources */
  sluiceRoot?: string;
  /**
   * run this checkout's compiled dist/ (what the image runs) instead of the TypeScript sources: type
   * stripping keeps Node's TypeScript parser and its WebAssembly loaded, ~20 MiB of RSS a pod never has
   */
  useDist?: boolean;
  /** a compiled tree (tsc -p tsconfig.build.json --outDir <dir>, inside this checkout) to run instead of dist/ */
  distDir?: string;
  /** extra environment for the gateway process */
  env?: Record<string, string>;
  /** OTLP/HTTP traces URL (bench/otlp_sink.ts) the traced Sluice target exports to */
  otlpUrl?: string;
}

export interface RunningTarget {
  name: string;
  endpoint: TargetEndpoint;
  /** root of the process tree whose CPU and RSS are charged to the target (none for direct) */
  pid: number | undefined;
  version: string;
  /** seconds of warm-up load before timing (JIT, lazy init; Portkey needs ~5 s) */
  warmupSeconds: number;
  stop(): Promise<void>;
}

export interface TargetSpec {
  name: string;
  description: string;
  start(ctx: BenchContext): Promise<RunningTarget>;
}

const pkgVersion = (dir: string) =>
  (JSON.parse(readFileSync(join(REPO, 'node_modules', dir, 'package.json'), 'utf8')) as { version: string })
    .version;

function chatUrl(port: number): string {
  return `http://127.0.0.1:${port}/v1/chat/completions`;
}

export const direct: TargetSpec = {
  name: 'direct',
  description: 'client -> mock upstream, no gateway (the baseline)',
  async start(ctx) {
    return {
      name: 'direct',
      endpoint: { url: chatUrl(ctx.mockPort), headers: { authorization: `Bearer ${UPSTREAM_KEY}` } },
      pid: undefined,
      version: `node ${process.versions.node} http`,
      warmupSeconds: 2,
      stop: async () => {},
    };
  },
};

export const floor: TargetSpec = {
  name: 'floor',
  description:
    'the floor of our stack: a minimal Fastify 5 + undici passthrough that parses the body and the usage',
  async start(ctx) {
    const port = await freePort();
    const s = startPinned(
      'floor',
      GATEWAY_CORE,
      process.execPath,
      [
        // the same extra flags as Sluice gets (the profiler's, bench/profile.ts --floor), none in the bench
        ...(ctx.sluiceExtraFlags ?? []),
        join(import.meta.dirname, 'floor_passthrough.ts'),
        String(port),
        `http://127.0.0.1:${ctx.mockPort}`,
      ],
      {
        env: { ...process.env, NODE_ENV: 'production' },
        cwd: ctx.tmpDir,
        logFile: join(ctx.tmpDir, 'floor.log'),
      },
    );
    await started(s, port, START_TIMEOUT_MS);
    return {
      name: 'floor',
      endpoint: { url: chatUrl(port), headers: { authorization: `Bearer ${UPSTREAM_KEY}` } },
      pid: s.pid,
      version: `fastify ${pkgVersion('fastify')} + undici ${pkgVersion('undici')} (node ${process.versions.node})`,
      warmupSeconds: 2,
      stop: () => s.stop(),
    };
  },
};

/** The client's key for the full-policy config (its SHA-256 is what the config holds). */
export const BENCH_CLIENT_KEY = 'sk-sluice-bench-client-key-0001';

/** What a Sluice target turns on; each is one row of the allocation table (bench/alloc.ts). */
export interface SluiceFeatures {
  /** an API-key namespace (callers identified by key) instead of open access */
  tenant?: boolean;
  /** with the tenant: a policy with a request and a token limit on Redis (the full policy stack) */
  redisLimits?: boolean;
  /** OpenTelemetry tracing on, 10% sampled, exported to the bench's OTLP sink */
  tracing?: boolean;
}

function sluiceConfig(ctx: BenchContext, port: number, f: SluiceFeatures): string {
  if (f.tracing && !ctx.otlpUrl) throw new Error('the traced target needs the OTLP sink');
  // traced: OpenTelemetry on, 10% of traces sampled and exported (the issue's cost target)
  const tracing = f.tracing ? { tracing: { enabled: true, endpoint: ctx.otlpUrl, samplingRatio: 0.1 } } : {};
  const cfg: Record<string, unknown> = {
    // the admin port (metrics) on any free port: several targets may run side by side
    server: { host: '127.0.0.1', port, admin: { port: 0 }, ...tracing },
    providers: [
      {
        name: 'bench-upstream',
        type: 'openai',
        baseUrl: `http://127.0.0.1:${ctx.mockPort}/v1`,
        credentials: { apiKey: { env: 'BENCH_UPSTREAM_KEY' } },
        models: [{ name: MODEL, pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 } }],
      },
    ],
    routes: [{ name: 'default', match: { models: [MODEL] }, backends: [{ provider: 'bench-upstream' }] }],
  };
  if (f.tenant || f.redisLimits) {
    const sha256 = createHash('sha256').update(BENCH_CLIENT_KEY).digest('hex');
    cfg.namespaces = [
      {
        name: 'bench-team',
        match: { apiKeys: [{ name: 'bench-key', sha256 }] },
        policies: f.redisLimits ? ['bench-limits'] : [],
      },
    ];
  } else {
    cfg.access = 'open'; // no tenants: every caller is served, as the bare gateway is measured
  }
  if (f.redisLimits) {
    if (!ctx.redisPort) throw new Error('the full policy stack needs Redis');
    cfg.store = { type: 'redis', redis: { url: `redis://127.0.0.1:${ctx.redisPort}` } };
    // Limits high enough never to reject during the run, so every request pays for the checks.
    cfg.policies = [
      {
        name: 'bench-limits',
        requests: { limit: 1_000_000_000, window: 'minute' },
        tokens: [{ limit: 1_000_000_000_000, window: 'minute', kind: 'total' }],
      },
    ];
  }
  return JSON.stringify(cfg, null, 2);
}

/** A Sluice target: `flags` undefined runs the shipped Node flags and environment, [] V8's defaults. */
export function sluiceTarget(
  name: string,
  description: string,
  features: SluiceFeatures,
  flags: string[] | undefined = undefined,
): TargetSpec {
  const v8Defaults = flags !== undefined && flags.length === 0;
  const nodeFlags = flags ?? SLUICE_NODE_FLAGS;
  const keyed = features.tenant || features.redisLimits;
  return {
    name,
    description,
    async start(ctx) {
      const port = await freePort();
      const cfgFile = join(ctx.tmpDir, `${name}.json`);
      writeFileSync(cfgFile, sluiceConfig(ctx, port, features));
      const s = startPinned(
        name,
        GATEWAY_CORE,
        process.execPath,
        [
          ...nodeFlags,
          ...(ctx.sluiceExtraFlags ?? []),
          ctx.distDir
            ? join(ctx.distDir, 'cli/main.js')
            : ctx.useDist && !ctx.sluiceRoot
              ? join(REPO, 'dist/cli/main.js')
              : join(ctx.sluiceRoot ?? REPO, 'bin/sluice.js'),
          'serve',
          '--config',
          cfgFile,
        ],
        {
          env: {
            ...process.env,
            NODE_ENV: 'production',
            ...(v8Defaults ? {} : SLUICE_ENV),
            BENCH_UPSTREAM_KEY: UPSTREAM_KEY,
            ...ctx.env,
          },
          cwd: ctx.tmpDir,
          logFile: join(ctx.tmpDir, `${name}.log`),
        },
      );
      await started(s, port, START_TIMEOUT_MS);
      const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string })
        .version;
      return {
        name,
        endpoint: {
          url: chatUrl(port),
          headers: keyed ? { authorization: `Bearer ${BENCH_CLIENT_KEY}` } : ({} as Record<string, string>),
        },
        pid: s.pid,
        version: `sluice ${version} (${ctx.useDist && !ctx.sluiceRoot ? 'dist' : 'sources'}, node ${process.versions.node}, ${v8Defaults ? 'V8 defaults' : [...nodeFlags, ...Object.entries(SLUICE_ENV).map(([k, v]) => `${k}=${v}`)].join(' ')})`,
        warmupSeconds: 3,
        stop: () => s.stop(),
      };
    },
  };
}

export const sluiceBare = sluiceTarget(
  'sluice',
  'Sluice, one route to the mock, no tenants (metrics and token counting stay on)',
  {},
);
export const sluiceFull = sluiceTarget(
  'sluice-full',
  'Sluice with API-key namespace, Redis-backed request + token limits, token counting, metrics',
  { redisLimits: true },
);
export const sluiceV8Defaults = sluiceTarget(
  'sluice-v8-defaults',
  'bare Sluice with V8 default heap settings and no MALLOC_ARENA_MAX: the CPU the memory flags cost',
  {},
  [],
);
export const sluiceTraced = sluiceTarget(
  'sluice-traced',
  'bare Sluice with OpenTelemetry tracing on, 10% of traces sampled and exported over OTLP/HTTP',
  { tracing: true },
);

export const portkey: TargetSpec = {
  name: 'portkey',
  description: 'Portkey AI gateway (@portkey-ai/gateway, Node), provider openai with x-portkey-custom-host',
  async start(ctx) {
    const port = await freePort();
    const entry = join(REPO, 'node_modules/@portkey-ai/gateway/build/start-server.js');
    const s = startPinned(
      'portkey',
      GATEWAY_CORE,
      process.execPath,
      // Portkey listens on every interface; the preload binds it to loopback like everything else here.
      ['--import', join(import.meta.dirname, 'loopback_only.ts'), entry, `--port=${port}`, '--headless'],
      {
        env: { ...process.env, NODE_ENV: 'production', TRUSTED_CUSTOM_HOSTS: '127.0.0.1' },
        cwd: ctx.tmpDir,
        logFile: join(ctx.tmpDir, 'portkey.log'),
      },
    );
    await started(s, port, START_TIMEOUT_MS);
    return {
      name: 'portkey',
      endpoint: {
        url: chatUrl(port),
        headers: {
          authorization: `Bearer ${UPSTREAM_KEY}`,
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `http://127.0.0.1:${ctx.mockPort}/v1`,
        },
      },
      pid: s.pid,
      version: `@portkey-ai/gateway ${pkgVersion('@portkey-ai/gateway')} (@hono/node-server ${pkgVersion('@hono/node-server')})`,
      warmupSeconds: 6,
      stop: () => s.stop(),
    };
  },
};

/** LiteLLM refuses to start without a master key (no DB: the key is checked in memory). */
const LITELLM_MASTER_KEY = `sk-${createHash('sha256').update('sluice-bench-litellm').digest('hex')}`;

export const litellm: TargetSpec = {
  name: 'litellm',
  description:
    'LiteLLM proxy (litellm[proxy], Python), 1 worker on its 1 core, documented production settings',
  async start(ctx) {
    const setup = ensureLitellm();
    if (!setup.ok) throw new Error(setup.reason);
    const bin = join(VENV, 'bin', 'litellm');
    const port = await freePort();
    const cfgFile = join(ctx.tmpDir, 'litellm.yaml');
    // Production best practices from LiteLLM's docs: no verbose/debug logging (LITELLM_LOG=ERROR),
    // no DB spend/error logs, one worker per core the proxy is given (here: 1).
    writeFileSync(
      cfgFile,
      `model_list:
  - model_name: ${MODEL}
    litellm_params:
      model: openai/${MODEL}
      api_base: http://127.0.0.1:${ctx.mockPort}/v1
      api_key: ${UPSTREAM_KEY}
litellm_settings:
  set_verbose: false
  request_timeout: 600
  drop_params: true
general_settings:
  disable_spend_logs: true
  disable_error_logs: true
`,
    );
    const s = startPinned(
      'litellm',
      GATEWAY_CORE,
      bin,
      ['--config', cfgFile, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
      {
        env: {
          ...process.env,
          LITELLM_LOG: 'ERROR',
          LITELLM_MASTER_KEY: LITELLM_MASTER_KEY,
          PYTHONUNBUFFERED: '1',
          DISABLE_ADMIN_UI: 'True',
        },
        cwd: ctx.tmpDir,
        logFile: join(ctx.tmpDir, 'litellm.log'),
      },
    );
    await started(s, port, 180_000);
    return {
      name: 'litellm',
      endpoint: { url: chatUrl(port), headers: { authorization: `Bearer ${LITELLM_MASTER_KEY}` } },
      pid: s.pid,
      version: `litellm ${setup.version} (python ${setup.python}, 1 worker)`,
      warmupSeconds: 5,
      stop: () => s.stop(),
    };
  },
};
