// Config parse + swap for a big tenant config: 1,000 routes and 10,000 API keys (100 namespaces x 100
// keys, in an apiKeysFile the way the operator renders them into a Secret). The headline swap uses
// the format the operator writes into its ConfigMap: JSON (configJson, in a file named config.yaml).
// Measures each stage (parse, validate, compile) and a real hot reload through the Dataplane while a
// 1 ms timer measures how long the event loop — and so every request — was blocked; the YAML parse
// and a reload of the same config as hand-written YAML are measured too, for the record.
// Run: `node bench/micro/config_swap.ts [--quick]` prints one JSON object.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { compileRuntime } from '../../dataplane/src/compiled/compile.ts';
import { ProviderRegistry } from '../../dataplane/src/compiled/provider_runtime.ts';
import { parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import { configJson } from '../../operator/src/render/encode.ts';
import { round, type Summary, summarize } from '../stats.ts';
import { loadGateFactory } from './gate_factory.ts';

export interface ConfigSwapResult {
  routes: number;
  keys: number;
  /** false when the policy engine is not available: keys are then left out of the config */
  keysIncluded: boolean;
  /** the same config written as YAML (a hand-written config) */
  yamlBytes: number;
  /** the config as the operator renders it (JSON); absent in results from before it did */
  jsonBytes?: number;
  /** YAML parse of the hand-written form */
  parseMs: Summary;
  /** JSON.parse of the operator's rendering (the loader picks the parser by content) */
  parseJsonMs: Summary;
  /** validateConfig in one call (schema, references, policy compile) */
  validateMs: Summary;
  /** compileRuntime (routes, providers, policy gate: keys read, checked and indexed) */
  compileMs: Summary;
  /** hot reload end to end, operator-rendered JSON: file changed -> new runtime serving */
  swapMs: Summary;
  /** longest time the event loop could not run a 1 ms timer during that swap (requests wait that long) */
  maxRequestStallMs: Summary;
  /** the same reload with the config as YAML (hand-written), for the record */
  swapYamlMs?: Summary;
  maxRequestStallYamlMs?: Summary;
}

export function bigConfig(
  routes: number,
  keys: number,
  keysFile: string | undefined,
  port: number,
  gen: number,
): Record<string, unknown> {
  const providers = Array.from({ length: 10 }, (_, i) => ({
    name: `provider-${i}`,
    type: 'openai',
    baseUrl: `http://127.0.0.1:9/v${i}`,
    credentials: { apiKey: { env: 'BENCH_SWAP_KEY' } },
    models: [{ name: `model-${i}`, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }],
  }));
  const cfg: Record<string, unknown> = {
    server: { host: '127.0.0.1', port },
    providers,
    routes: Array.from({ length: routes }, (_, i) => ({
      name: `route-${i}`,
      match: {
        models: [`team-model-${i}`, `team-model-${i}-*`],
        headers: [{ name: 'x-tenant', equals: `t${i % 50}` }],
      },
      strategy: i % 2 ? 'least-outstanding' : 'weighted-random',
      backends: [
        { provider: `provider-${i % 10}`, model: `model-${i % 10}`, weight: 3 },
        { provider: `provider-${(i + 1) % 10}`, model: `model-${(i + 1) % 10}`, weight: 1 },
      ],
      fallback: [{ provider: `provider-${(i + 2) % 10}`, model: `model-${(i + 2) % 10}` }],
      retry: { attempts: 2, baseDelayMs: 50 + (gen % 7) },
    })),
  };
  if (keysFile) {
    const namespaces = Math.ceil(keys / 100);
    cfg.namespaces = Array.from({ length: namespaces }, (_, n) => ({
      name: `ns-${n}`,
      match: { apiKeysFile: `${keysFile}-${n}.json` },
      policies: ['standard'],
    }));
    cfg.policies = [
      {
        name: 'standard',
        requests: { limit: 600, window: 'minute' },
        tokens: [{ limit: 1_000_000, window: 'day', kind: 'total' }],
      },
    ];
  } else {
    cfg.access = 'open';
  }
  return cfg;
}

const asJson = (cfg: Record<string, unknown>) => configJson(cfg);
const asYaml = (cfg: Record<string, unknown>) => stringify(cfg);

function writeKeyFiles(dir: string, keys: number): string {
  const base = join(dir, 'keys');
  for (let n = 0; n < Math.ceil(keys / 100); n++) {
    const list = Array.from({ length: Math.min(100, keys - n * 100) }, (_, k) => ({
      name: `key-${n}-${k}`,
      sha256: createHash('sha256').update(`sk-bench-${n}-${k}`).digest('hex'),
    }));
    writeFileSync(`${base}-${n}.json`, JSON.stringify(list));
  }
  return 'keys';
}

/** Runs `fn` while a 1 ms interval records the longest gap between its ticks beyond the 1 ms period. */
async function stallDuring<T>(fn: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let last = performance.now();
  let worst = 0;
  const t = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 1);
    last = now;
  }, 1);
  // let the timer settle before the measured work starts
  await new Promise((r) => setTimeout(r, 20));
  last = performance.now();
  worst = 0;
  const value = await fn();
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(t);
  h.disable();
  return { value, stallMs: Math.max(worst, h.max / 1e6 - 1) };
}

/** Hot reloads through a real Dataplane, each with a new generation of the config, stall measured. */
async function reloads(
  file: string,
  render: (cfg: Record<string, unknown>) => string,
  make: (gen: number) => Record<string, unknown>,
  gateFactory: Awaited<ReturnType<typeof loadGateFactory>>,
  repeats: number,
): Promise<{ swap: number[]; stall: number[] }> {
  const swap: number[] = [];
  const stall: number[] = [];
  writeFileSync(file, render(make(0)));
  const dp = new Dataplane({ configFile: file, log: pino({ level: 'silent' }), gateFactory });
  await dp.start();
  try {
    for (let i = 1; i <= repeats; i++) {
      writeFileSync(file, render(make(i)));
      const before = dp.runtime.hash;
      const { value: ms, stallMs } = await stallDuring(async () => {
        const t0 = performance.now();
        await dp.reloadNow();
        if (dp.runtime.hash === before) throw new Error('reload did not swap the runtime');
        return performance.now() - t0;
      });
      swap.push(ms);
      stall.push(stallMs);
    }
  } finally {
    await dp.stop();
  }
  return { swap, stall };
}

export async function runConfigSwap(quick: boolean): Promise<ConfigSwapResult> {
  const routes = 1_000;
  const keys = 10_000;
  const repeats = quick ? 2 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-swap-'));
  process.env.BENCH_SWAP_KEY = 'sk-not-used';
  const gateFactory = await loadGateFactory();
  const keysFile = gateFactory ? writeKeyFiles(dir, keys) : undefined;
  const make = (gen: number) => bigConfig(routes, keys, keysFile, 0, gen);
  // the operator's ConfigMap key is config.yaml whatever the content: the loader goes by content
  const file = join(dir, 'config.yaml');
  const parse: number[] = [];
  const parseJson: number[] = [];
  const validate: number[] = [];
  const compile: number[] = [];
  let yamlBytes = 0;
  let jsonBytes = 0;
  let json: { swap: number[]; stall: number[] };
  let yaml: { swap: number[]; stall: number[] };
  try {
    const state = new ProviderRegistry();
    for (let i = 0; i < repeats; i++) {
      const yamlText = asYaml(make(i));
      const jsonText = asJson(make(i));
      yamlBytes = Buffer.byteLength(yamlText);
      jsonBytes = Buffer.byteLength(jsonText);
      let t = performance.now();
      parseConfigText(yamlText, file);
      parse.push(performance.now() - t);
      t = performance.now();
      const raw = parseConfigText(jsonText, file);
      parseJson.push(performance.now() - t);
      t = performance.now();
      const cfg = validateConfig(raw, file);
      validate.push(performance.now() - t);
      t = performance.now();
      const rt = await compileRuntime(cfg, { configDir: dir, state, gateFactory });
      compile.push(performance.now() - t);
      await rt.gate.close?.();
    }
    await state.closeAll();
    json = await reloads(file, asJson, make, gateFactory, repeats);
    yaml = await reloads(file, asYaml, make, gateFactory, repeats);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = (xs: number[]) => summarize(xs.map((x) => round(x, 2)));
  return {
    routes,
    keys,
    keysIncluded: gateFactory !== undefined,
    yamlBytes,
    jsonBytes,
    parseMs: s(parse),
    parseJsonMs: s(parseJson),
    validateMs: s(validate),
    compileMs: s(compile),
    swapMs: s(json.swap),
    maxRequestStallMs: s(json.stall),
    swapYamlMs: s(yaml.swap),
    maxRequestStallYamlMs: s(yaml.stall),
  };
}

if (import.meta.main) {
  const result = await runConfigSwap(process.argv.includes('--quick'));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
