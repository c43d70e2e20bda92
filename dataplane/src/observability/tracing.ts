// Turns OpenTelemetry tracing on, off or over to new settings as configs load (server.tracing). The
// OpenTelemetry packages are imported only when a config enables tracing, so a dataplane without it
// loads none of them and its request path publishes nothing (observability/lifecycle.ts).
import type { Logger } from 'pino';
import type { Runtime } from '../compiled/compile.ts';
import { makeSecretReader } from '../compiled/compile.ts';
import type { SluiceConfig, TracingConfig } from '../config/schema.ts';

/** What a running tracer needs from each config load besides its export settings. */
export interface TracingScope {
  /** namespaces whose policies opt in to prompts and answers on spans (policies[].traceContent) */
  contentNamespaces: ReadonlySet<string>;
}

export interface RunningTracer {
  update(scope: TracingScope): void;
  /** export what is buffered and stop listening */
  stop(): Promise<void>;
}

let running: { key: string; tracer: RunningTracer } | undefined;
let queue: Promise<void> = Promise.resolve();

export function contentNamespaces(cfg: SluiceConfig): Set<string> {
  const optIn = new Set(cfg.policies.filter((p) => p.traceContent).map((p) => p.name));
  return new Set(cfg.namespaces.filter((ns) => ns.policies.some((p) => optIn.has(p))).map((ns) => ns.name));
}

async function apply(cfg: TracingConfig | undefined, rt: Runtime | undefined, log: Logger): Promise<void> {
  if (!cfg?.enabled || !rt) {
    const was = running;
    running = undefined;
    if (was) {
      await was.tracer.stop();
      log.info('tracing stopped');
    }
    return;
  }
  // header values come from env or secret files, like every credential (compileRuntime checked them)
  const read = makeSecretReader(rt.secretsDir, process.env);
  const headers: Record<string, string> = {};
  for (const [k, src] of Object.entries(cfg.headers ?? {}))
    headers[k] = read(src, `server.tracing.headers.${k}`);
  const scope = { contentNamespaces: contentNamespaces(rt.config) };
  const key = JSON.stringify([cfg, headers]);
  if (running?.key === key) {
    running.tracer.update(scope);
    return;
  }
  const { startOtelTracer } = await import('./tracing_otel.ts');
  const previous = running;
  running = { key, tracer: startOtelTracer(cfg, headers, scope) };
  if (previous) await previous.tracer.stop();
  log.info(
    {
      endpoint: cfg.endpoint,
      samplingRatio: cfg.samplingRatio,
      contentNamespaces: scope.contentNamespaces.size,
    },
    'tracing on',
  );
}

/** Called after each successful config load; loads are applied in order. Never throws. */
export function applyTracing(rt: Runtime, log: Logger): Promise<void> {
  queue = queue
    .then(() => apply(rt.config.server.tracing, rt, log))
    .catch((err: unknown) => log.error({ err }, 'tracing settings not applied'));
  return queue;
}

/** At shutdown: export the spans still buffered. */
export function stopTracing(log: Logger): Promise<void> {
  queue = queue
    .then(() => apply(undefined, undefined, log))
    .catch((err: unknown) => log.error({ err }, 'tracing did not stop cleanly'));
  return queue;
}
