// The AWS SDK modules Bedrock needs (SigV4 signing, the event-stream codec) cost a replica ~4.5 MiB of
// RSS at idle, and most replicas have no Bedrock provider: they are loaded on first use. A real
// `sluice serve` process with a module-load hook: without a Bedrock provider none of them is loaded,
// even after requests on every other backend API; with one, the readiness warm-up loads them (the
// positive control that shows the hook sees these modules at all).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { configDir, REPO_ROOT, spawnDataplane } from '../helpers/dataplane.ts';

const HOOK = join(REPO_ROOT, 'test/helpers/module_log_hook.mjs');
const AWS = /node_modules\/@(smithy|aws-crypto)\//;
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function loadedBy(config: Record<string, unknown>, use?: (baseURL: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-modules-'));
  dirs.push(dir);
  const log = join(dir, 'modules.txt');
  const cfg = configDir(config);
  const dp = await spawnDataplane(cfg.file, {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${HOOK}`.trim(),
    SLUICE_TEST_MODULE_LOG: log,
    SLUICE_TEST_AWS_KEY_ID: 'AKIAFAKEBEDROCK01',
    SLUICE_TEST_AWS_SECRET: 'fake/Secret+Key/For/Tests/0123456789abcd',
  });
  try {
    await use?.(dp.baseURL);
  } finally {
    await dp.stop();
    cfg.cleanup();
  }
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

describe('Bedrock modules are loaded on first use', () => {
  it('a replica without a Bedrock provider never loads them', async () => {
    const modules = await loadedBy(
      {
        providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
        routes: [{ name: 'main', match: { models: ['*'] }, backends: [{ provider: 'mock' }] }],
      },
      async (baseURL) => {
        const client = new OpenAI({ baseURL, apiKey: 'k', maxRetries: 0 });
        const whole = await client.chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(whole.choices[0]?.message.content).toBeTruthy();
        const stream = await client.chat.completions.create({
          model: 'm',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        });
        for await (const _ of stream) {
          // drained
        }
      },
    );
    // the hook saw the dataplane's own modules and its dependencies
    expect(modules.some((m) => m.includes('/dataplane/src/server.ts'))).toBe(true);
    expect(modules.some((m) => m.includes('node_modules/undici/'))).toBe(true);
    expect(modules.filter((m) => AWS.test(m))).toEqual([]);
  });

  it('a replica with one loads them (for the readiness warm-up, before its first request)', async () => {
    const modules = await loadedBy({
      providers: [
        {
          name: 'aws',
          type: 'bedrock',
          region: 'us-east-1',
          baseUrl: 'http://127.0.0.1:9',
          credentials: {
            accessKeyId: { env: 'SLUICE_TEST_AWS_KEY_ID' },
            secretAccessKey: { env: 'SLUICE_TEST_AWS_SECRET' },
          },
        },
      ],
      routes: [
        {
          name: 'claude',
          match: { models: ['*'] },
          backends: [{ provider: 'aws', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' }],
        },
      ],
    });
    const aws = modules.filter((m) => AWS.test(m));
    expect(aws.some((m) => m.includes('@smithy/signature-v4'))).toBe(true);
    expect(aws.some((m) => m.includes('@smithy/core'))).toBe(true);
  });
});
