// The in-cluster half of `make e2e-kind` (see run.sh): the same checks as test/e2e, through a
// port-forward to the dataplane Service. Exits non-zero on any failed request, a p99 above the
// target, or a route that never reports Programmed=True.
import { execFileSync } from 'node:child_process';
import OpenAI from 'openai';
import { stringify } from 'yaml';

const ns = process.env.E2E_NAMESPACE ?? 'sluice-e2e';
const kubectl = process.env.KUBECTL ?? 'kubectl';
const client = new OpenAI({
  baseURL: process.env.E2E_BASE_URL ?? 'http://127.0.0.1:18080/v1',
  apiKey: 'unused',
  maxRetries: 0,
});
const TARGET_P99_MS = Number(process.env.E2E_TARGET_P99_MS ?? 5_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function applyRoute(models: string[]): void {
  const route = {
    apiVersion: 'gateway.sluice.dev/v1alpha1',
    kind: 'AIRoute',
    metadata: { name: 'chat', namespace: ns },
    spec: {
      match: { models },
      backends: [{ providerRef: { name: 'primary' } }],
      fallback: [{ providerRef: { name: 'backup' } }],
    },
  };
  execFileSync(kubectl, ['apply', '--server-side', '-f', '-'], { input: stringify(route) });
}

async function served(model: string): Promise<boolean> {
  try {
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    return true;
  } catch {
    return false;
  }
}

let stop = false;
const stats = { ok: 0, failed: 0 };
const traffic = (async () => {
  for (let i = 0; !stop && i < 100_000; i++) {
    (await served('e2e-model')) ? stats.ok++ : stats.failed++;
    await sleep(20);
  }
})();

const latencies: number[] = [];
const models = ['e2e-model'];
for (let i = 0; i < 10; i++) {
  const model = `e2e-new-${i}`;
  models.push(model);
  const t0 = performance.now();
  applyRoute(models);
  // the Service spreads requests over the replicas: ask until several answers in a row succeed
  let streak = 0;
  while (streak < 6) {
    if (performance.now() - t0 > 120_000) throw new Error(`${model} not served after 120 s`);
    streak = (await served(model)) ? streak + 1 : 0;
    if (streak === 0) await sleep(50);
  }
  latencies.push(performance.now() - t0);
}
stop = true;
await traffic;
const sorted = latencies.sort((a, b) => a - b);
const p99 = sorted[sorted.length - 1] ?? 0;
const status = JSON.parse(
  execFileSync(kubectl, ['get', 'airoute', 'chat', '-n', ns, '-o', 'json']).toString(),
);
const programmed = (status.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Programmed');
console.log(
  JSON.stringify({
    p50Ms: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    p99Ms: Math.round(p99),
    ...stats,
    programmed,
  }),
);
if (stats.failed > 0 || p99 > TARGET_P99_MS || programmed?.status !== 'True') process.exit(1);
