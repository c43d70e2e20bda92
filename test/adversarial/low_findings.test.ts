// The "also fix (low)" findings of the adversarial review, through real `sluice serve` processes and
// the official openai SDK: JWTs without `exp` (accepted forever before), 1-byte HS256 secrets,
// model names `.`/`..` that went raw into upstream URL paths, the x-sluice-provider header that told
// every client the internal provider names, and a 10,000-character model name echoed whole.
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandTemplate } from '../../dataplane/src/providers/request_parts.ts';
import type { ResolvedProvider } from '../../dataplane/src/providers/types.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  configDir,
  type DataplaneProcess,
  openaiProvider,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const HS_SECRET = 'low-findings-hs256-secret-0123456789abcdef';
const KEY = 'sk-low-findings-tenant-key-0001';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let up: FakeOpenAI;
let dp: DataplaneProcess;
let cfg: TestConfigDir;

function config(extra: { exposeProvider?: boolean; requireExp?: boolean } = {}) {
  return {
    server: extra.exposeProvider === undefined ? {} : { exposeProvider: extra.exposeProvider },
    providers: [
      openaiProvider('internal-east-1', up.url),
      // a provider that puts the model name into its URL path
      {
        name: 'azure-internal',
        type: 'azure-openai',
        baseUrl: up.url.replace(/\/v1$/, ''),
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [
      {
        name: 'az',
        match: { models: ['az-*', '.', '..', 'az/../x'] },
        backends: [{ provider: 'azure-internal' }],
      },
      { name: 'any', backends: [{ provider: 'internal-east-1' }] },
    ],
    namespaces: [
      { name: 'keyed', match: { apiKeys: [{ name: 'k', sha256: sha(KEY) }] } },
      {
        name: 'jwt-hs',
        match: {
          jwt: {
            algorithms: ['HS256'],
            secret: { env: 'SLUICE_LOW_HS_SECRET' },
            ...(extra.requireExp === undefined ? {} : { requireExp: extra.requireExp }),
          },
        },
      },
    ],
  };
}

const env = { SLUICE_LOW_HS_SECRET: HS_SECRET };

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up' });
  cfg = configDir(config());
  dp = await spawnDataplane(cfg.file, env);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
  await up?.close();
});

const client = (apiKey = KEY) => new OpenAI({ baseURL: dp.baseURL, apiKey, maxRetries: 0 });
const hello = (c: OpenAI, model = 'gpt-4o-mini') =>
  c.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });

function token(exp?: string): Promise<string> {
  const jwt = new SignJWT({ namespace: 'jwt-hs' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (exp) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(HS_SECRET));
}

/** Swap the config and wait until the replica serves it. */
async function reload(next: unknown): Promise<void> {
  const before = dp.logs.length;
  cfg.write(next);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (dp.logs.slice(before).some((l) => l.includes('config reloaded'))) return;
  }
  throw new Error(`config was not reloaded:\n${dp.logs.slice(before).join('')}`);
}

describe('JWTs', () => {
  it('a token without exp is refused unless the namespace sets requireExp: false', async () => {
    expect((await hello(client(await token('5m')))).choices[0]?.message.content).toBeTruthy();
    const err = (await hello(client(await token())).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    await reload(config({ requireExp: false }));
    expect((await hello(client(await token()))).choices[0]?.message.content).toBeTruthy();
    await reload(config());
    expect(await hello(client(await token())).catch((e: unknown) => e)).toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });

  it('an HS256 secret shorter than 32 bytes fails the load, naming the field and not the secret', async () => {
    const dir = configDir(config());
    const short = 'short-hs256-secret-of-31-bytes!'; // one byte under the minimum
    const err = (await spawnDataplane(dir.file, { SLUICE_LOW_HS_SECRET: short }, 20_000).catch(
      (e: unknown) => e,
    )) as Error;
    dir.cleanup();
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/namespaces\[1\]\.match\.jwt\.secret.*at least 32 bytes/);
    expect(err.message).toContain('this one has 31');
    expect(err.message).not.toContain(short);
  });
});

describe('model names in upstream paths', () => {
  it("'.', '..' and dot segments are refused before routing, and never reach the upstream", async () => {
    const before = up.requests.length;
    for (const model of ['.', '..', 'az/../x', 'a\\..\\b']) {
      const err = (await hello(client(), model).catch((e: unknown) => e)) as InstanceType<
        typeof OpenAI.APIError
      >;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toMatchObject({ code: 'SLUICE_ERR_INVALID_REQUEST', param: 'model' });
    }
    expect(up.requests.length).toBe(before);
    // a configured backend model is written as one encoded segment, dots included
    const provider = {
      config: { apiVersion: '1' },
      preset: { defaultApiVersion: '1' },
    } as unknown as ResolvedProvider;
    expect(expandTemplate('/openai/deployments/{model}/chat', provider, '..')).toBe(
      '/openai/deployments/%2E%2E/chat',
    );
    expect(expandTemplate('/m/{model}/x', provider, 'org/../y')).toBe('/m/org%2F..%2Fy/x');
  });

  it('a 10,000-character model name is refused by length and not echoed whole', async () => {
    const long = `gpt-${'x'.repeat(10_000)}`;
    const err = (await hello(client(), long).catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ code: 'SLUICE_ERR_INVALID_REQUEST', param: 'model' });
    const shown = JSON.stringify(err.error);
    expect(shown.length).toBeLessThan(400);
    expect(shown).not.toContain('x'.repeat(100));
  });
});

describe('x-sluice-provider', () => {
  async function providerHeaders(): Promise<Array<string | null>> {
    const c = client();
    const whole = await c.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    const stream = await c.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .withResponse();
    for await (const _ of stream.data);
    return [
      whole.response.headers.get('x-sluice-provider'),
      stream.response.headers.get('x-sluice-provider'),
    ];
  }

  it('is not sent by default (internal provider names stay internal), and is sent when the operator opts in', async () => {
    expect(await providerHeaders()).toEqual([null, null]);
    await reload(config({ exposeProvider: true }));
    expect(await providerHeaders()).toEqual(['internal-east-1', 'internal-east-1']);
    await reload(config());
    expect(await providerHeaders()).toEqual([null, null]);
  });
});
