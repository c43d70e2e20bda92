// Shared pieces for the policy suites: tenant configs on the built-in mock provider, and clients.
import { createHash } from 'node:crypto';
import OpenAI from 'openai';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface MockSettings {
  outputTokens?: number;
  chunkTokens?: number;
  chunkDelayMs?: number;
  latencyMs?: number;
  text?: string;
}

/** A mock provider serving gpt-4o-mini and mock-large (priced) on route chat, internal-model on route
 * internal, and a slow mock (slow-model, 400 ms) on route slow. */
export function tenantConfig(extra: {
  namespaces: unknown[];
  policies?: unknown[];
  mock?: MockSettings;
  store?: unknown;
  routeCache?: unknown;
}): Record<string, unknown> {
  return {
    store: extra.store ?? { type: 'memory' },
    providers: [
      {
        name: 'mock',
        type: 'mock',
        models: [
          { name: 'gpt-4o-mini', pricing: { inputPerMTok: 1, outputPerMTok: 4 } },
          { name: 'mock-large', pricing: { inputPerMTok: 10, outputPerMTok: 40 } },
        ],
        mock: { outputTokens: 20, chunkTokens: 1, ...extra.mock },
      },
      // Answers after 400 ms: keeps requests in flight for concurrency limits.
      {
        name: 'slow',
        type: 'mock',
        models: [{ name: 'slow-model' }],
        mock: { latencyMs: 400, outputTokens: 5 },
      },
    ],
    routes: [
      {
        name: 'chat',
        match: { models: ['gpt-4o-mini', 'mock-large', 'text-embedding-3-small'] },
        backends: [{ provider: 'mock' }],
        ...(extra.routeCache ? { cache: extra.routeCache } : {}),
      },
      { name: 'internal', match: { models: ['internal-model'] }, backends: [{ provider: 'mock' }] },
      { name: 'slow', match: { models: ['slow-model'] }, backends: [{ provider: 'slow' }] },
    ],
    namespaces: extra.namespaces,
    policies: extra.policies ?? [],
  };
}

export function client(baseURL: string, apiKey: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL, apiKey, maxRetries: 0, defaultHeaders: headers });
}

/** Raw POST for header variants the SDK does not send. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

export const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hello' }] };

/** The error an SDK call threw, for assertions on status, body and headers. */
export async function sdkError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

/** The gateway's own error message (the SDK prefixes err.message with the status). */
export function bodyMessage(err: InstanceType<typeof OpenAI.APIError>): string {
  return String((err.error as { message?: unknown } | undefined)?.message);
}
