// Finding 6 of the adversarial review: model names chosen by clients became metric labels; 3,000
// names made 141,498 series and a 26.8 MB /metrics. Labels now come only from names the config lists
// (anything else is `other`), so thousands of made-up model names sent to a route that accepts any
// model leave the number of series and the size of /metrics where they were. Through a real
// `sluice serve` process and the official openai SDK.
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

let dp: DataplaneProcess;
let cfg: TestConfigDir;
let client: OpenAI;

beforeAll(async () => {
  cfg = configDir({
    providers: [
      {
        name: 'mock',
        type: 'mock',
        mock: { outputTokens: 2 },
        models: [{ name: 'priced', pricing: { inputPerMTok: 1, outputPerMTok: 2 } }],
      },
    ],
    // no model match: every model name a client sends is served (and used to become a label)
    routes: [{ name: 'any', backends: [{ provider: 'mock' }] }],
  });
  dp = await spawnDataplane(cfg.file);
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

/** /metrics lives on the admin port when the replica has one, else on the API port. */
async function scrape(): Promise<string> {
  const line = dp.logs.find((l) => l.includes('sluice dataplane listening')) ?? '{}';
  const { adminAddress } = JSON.parse(line) as { adminAddress?: string };
  return (await fetch(`${adminAddress ?? dp.url}/metrics`)).text();
}

/** Series (name and labels, without the value), leaving out Node's process metrics (they move on their own). */
function series(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !/^(nodejs_|process_|sluice_process_)/.test(l))
    .map((l) => l.slice(0, l.lastIndexOf(' ')));
}

async function sendRandomModels(n: number, stream = false): Promise<string[]> {
  const names = Array.from({ length: n }, () => `made-up-${randomBytes(6).toString('hex')}`);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(
      names.slice(i, i + 25).map(async (model) => {
        if (!stream) {
          const r = await client.chat.completions.create({
            model,
            messages: [{ role: 'user', content: 'hi' }],
          });
          expect(r.choices[0]?.message.content).toBeTruthy();
          return;
        }
        const s = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        });
        for await (const _ of s);
      }),
    );
  }
  return names;
}

describe('metric labels come from the config only', () => {
  it('thousands of random model names do not grow /metrics', { timeout: 180_000 }, async () => {
    // warm up every series the traffic below touches (streamed and not, the configured model too)
    await sendRandomModels(5);
    await sendRandomModels(5, true);
    await client.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'hi' }] });
    const before = await scrape();

    const names = [...(await sendRandomModels(1_800)), ...(await sendRandomModels(200, true))];
    const after = await scrape();

    const known = new Set(series(before));
    expect(series(after).filter((k) => !known.has(k))).toEqual([]);
    // digits of counters change; the text must not grow with the names
    expect(after.length).toBeLessThan(before.length * 1.05);
    for (const name of names.slice(0, 50)) expect(after).not.toContain(name);
    // the configured name keeps its own label; the rest share one bucket
    expect(after).toMatch(/sluice_tokens_total\{[^}]*model="priced"/);
    expect(after).toMatch(/sluice_tokens_total\{[^}]*model="other"/);
    expect(after).toMatch(/gen_ai_server_request_duration_count\{[^}]*gen_ai_request_model="other"/);
  });
});
