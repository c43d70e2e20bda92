// The official openai Python SDK against Sluice's Responses API, with every answer validated against
// the SDK's pydantic models (generated from OpenAI's published API specification): a venv under
// .cache/ (gitignored) is created from PyPI on first use and reused after. python_sdk_check.py does
// the calls and checks; this file starts the gateway and its backends and reads the verdict.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, REPO_ROOT, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

const run = promisify(execFile);
const OPENAI_PY = '3.60.0';
const VENV = join(REPO_ROOT, '.cache', `py-openai-${OPENAI_PY}`);
const PYTHON = join(VENV, 'bin', 'python');

async function ensureVenv(): Promise<void> {
  if (existsSync(join(VENV, '.complete'))) return;
  await run('python3', ['-m', 'venv', '--clear', VENV], { timeout: 120_000 });
  await run(
    PYTHON,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `openai==${OPENAI_PY}`],
    {
      timeout: 600_000,
    },
  );
  await run(PYTHON, ['-c', `open(${JSON.stringify(join(VENV, '.complete'))}, "w").close()`]);
}

let fake: FakeAgentic;
let dp: InProcessDataplane;

beforeAll(async () => {
  const venv = ensureVenv();
  fake = await startFakeAgentic(UPSTREAM_KEY);
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  dp = await startDataplane({
    providers: [
      { name: 'oa', type: 'openai', baseUrl: `${fake.url}/v1`, credentials: key },
      { name: 'compat', type: 'vllm', baseUrl: `${fake.url}/v1`, credentials: key },
    ],
    routes: [
      { name: 'native', match: { models: ['native-gpt'] }, backends: [{ provider: 'oa', model: 'gpt-5' }] },
      {
        name: 'chat',
        match: { models: ['compat-llama'] },
        backends: [{ provider: 'compat', model: 'llama' }],
      },
    ],
  });
  await venv;
}, 720_000);

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

describe('openai Python SDK, answers validated against its API models', () => {
  it('plain, raw stream events, the stream helper, tools + previous_response_id, retrieve, input_items, delete', async () => {
    const { stdout } = await run(
      PYTHON,
      [join(import.meta.dirname, 'python_sdk_check.py'), dp.baseURL, 'native-gpt', 'compat-llama'],
      { timeout: 120_000 },
    ).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`python check failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
    });
    const reports = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { model: string; text: string });
    expect(reports.map((r) => r.model)).toEqual(['native-gpt', 'compat-llama']);
    for (const r of reports) expect(r.text.length).toBeGreaterThan(0);
  }, 180_000);
});
