// Tenants attacking each other through one `sluice serve` process, with the official openai SDK:
// - probing for another tenant's routes and models by name (a 403 used to name the other tenant's
//   route, where /v1/models and an unknown name answer 404);
// - flooding the in-memory Responses state so another tenant's conversations are evicted;
// - filling a provider's concurrency queue so another tenant's requests are refused or wait behind
//   the whole flood;
// - sending huge bodies while over its request rate, which the replica parsed (and its neighbours
//   waited for) only to answer 429;
// - fetching its own large stored response (or counting tokens) over and over, which counted against
//   no limit;
// - sending bodies that are refused for what they are (not JSON, an invalid request, a model it may
//   not use), which were read and parsed but counted against no limit, so a tenant limited to a few
//   requests a minute could keep the replica parsing them.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { sdkError, sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-attacker-tenant-a-000111';
const KEY_B = 'sk-victim-tenant-b-222333';
const KEY_C = 'sk-rate-limited-tenant-c-444555';
const KEY_D = 'sk-rate-limited-tenant-d-666777';
const KEY_E = 'sk-rate-limited-tenant-e-888999';
const KEY_F = 'sk-token-limited-tenant-f-000222';

let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    store: { type: 'memory' },
    // small bounds so a flood of a few dozen requests crosses them
    responses: { memoryMaxBytes: 96 * 1024, maxRecordBytes: 32 * 1024 },
    providers: [
      { name: 'mock', type: 'mock', models: [{ name: 'gpt-4o-mini' }], mock: { outputTokens: 5 } },
      // one request at a time, four waiting: answers after 1 s (a flood of 8 arrives well within it)
      {
        name: 'slow',
        type: 'mock',
        models: [{ name: 'slow-model' }],
        mock: { latencyMs: 1_000, outputTokens: 3 },
        maxConcurrency: 1,
        maxQueue: 4,
      },
    ],
    routes: [
      { name: 'shared', match: { models: ['gpt-4o-mini', 'gpt-4o'] }, backends: [{ provider: 'mock' }] },
      // tenant b's private fine-tune: a name tenant a must not learn from an error
      {
        name: 'team-b-private-finetune',
        match: { models: ['ft-team-b-secret'] },
        backends: [{ provider: 'mock', model: 'gpt-4o-mini' }],
      },
      {
        name: 'slow',
        match: { models: ['slow-model'] },
        backends: [{ provider: 'slow' }],
        retry: { attempts: 0 },
      },
    ],
    namespaces: [
      {
        name: 'team-a',
        match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] },
        routes: ['shared', 'slow'],
        models: ['gpt-4o-mini', 'slow-model', 'ft-*'],
      },
      {
        name: 'team-b',
        match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] },
        routes: ['shared', 'slow', 'team-b-private-finetune'],
      },
      {
        name: 'team-c',
        match: { apiKeys: [{ name: 'c', sha256: sha256(KEY_C) }] },
        routes: ['shared'],
        policies: ['one-a-minute'],
      },
      {
        name: 'team-d',
        match: { apiKeys: [{ name: 'd', sha256: sha256(KEY_D) }] },
        routes: ['shared'],
        policies: ['two-a-minute'],
      },
      {
        name: 'team-e',
        match: { apiKeys: [{ name: 'e', sha256: sha256(KEY_E) }] },
        routes: ['shared'],
        policies: ['six-a-minute'],
        limits: { maxBodyBytes: 1024 * 1024 },
      },
      {
        name: 'team-f',
        match: { apiKeys: [{ name: 'f', sha256: sha256(KEY_F) }] },
        routes: ['shared'],
        policies: ['three-a-minute-200-tokens-a-day'],
      },
    ],
    policies: [
      { name: 'one-a-minute', requests: { limit: 1, window: 'minute' } },
      { name: 'two-a-minute', requests: { limit: 2, window: 'minute' } },
      { name: 'six-a-minute', requests: { limit: 6, window: 'minute' } },
      {
        name: 'three-a-minute-200-tokens-a-day',
        requests: { limit: 3, window: 'minute' },
        tokens: [{ limit: 200, window: 'day' }],
      },
    ],
  });
  dp = await spawnDataplane(cfg.file);
}, 60_000);

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

const client = (key: string) => new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 });

describe("another tenant's routes and models", () => {
  it('a model only another tenant may use answers exactly as a model that does not exist', async () => {
    const a = client(KEY_A);
    const ask = (model: string) =>
      sdkError(a.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }));
    const theirs = await ask('ft-team-b-secret');
    const none = await ask('ft-nobody-has-this');
    expect(theirs.status).toBe(404);
    expect(theirs.status).toBe(none.status);
    expect(theirs.error).toEqual({
      ...(none.error as Record<string, unknown>),
      message: (none.error as { message: string }).message.replace('ft-nobody-has-this', 'ft-team-b-secret'),
    });
    expect(JSON.stringify(theirs.error)).not.toContain('private-finetune');
    expect(theirs.headers?.get('x-sluice-error-code')).toBe(none.headers?.get('x-sluice-error-code'));
    // the owner is served, and /v1/models agrees with the chat endpoint
    const mine = await client(KEY_B).chat.completions.create({
      model: 'ft-team-b-secret',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(mine.choices[0]?.message.content).toBeTruthy();
    expect((await sdkError(a.models.retrieve('ft-team-b-secret'))).status).toBe(404);
  });

  it("a model its own namespace's list denies on a route it may use stays a 403 naming its own rule", async () => {
    const err = await sdkError(
      client(KEY_A).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    );
    expect(err.status).toBe(403);
    expect(err.message).toContain("namespace 'team-a' may not use model 'gpt-4o'");
  });
});

describe('stored Responses in memory', () => {
  it("one tenant's flood of stored responses does not evict another tenant's conversation", async () => {
    const a = client(KEY_A);
    const b = client(KEY_B);
    const first = await b.responses.create({ model: 'gpt-4o-mini', input: 'My name is Ada.' });
    // ~8 KB per record, 40 records: over three times the 96 KiB the memory store may hold
    const filler = 'lorem ipsum '.repeat(680);
    let last = '';
    for (let i = 0; i < 40; i++)
      last = (await a.responses.create({ model: 'gpt-4o-mini', input: `${i} ${filler}` })).id;
    // the flooder's own latest conversation is still there (it evicted only its own older ones)
    expect((await a.responses.retrieve(last)).id).toBe(last);
    expect((await b.responses.retrieve(first.id)).id).toBe(first.id);
    const next = await b.responses.create({
      model: 'gpt-4o-mini',
      input: 'What is my name?',
      previous_response_id: first.id,
    });
    expect(next.status).toBe('completed');
    expect(next.previous_response_id).toBe(first.id);
  });
});

describe("a provider's concurrency queue", () => {
  it("one tenant filling it neither refuses another tenant's request nor makes it wait behind the flood", async () => {
    const a = client(KEY_A);
    const b = client(KEY_B);
    const finished: string[] = [];
    let refused = 0;
    let threeRefused = () => {};
    const aRefusedThree = new Promise<void>((r) => {
      threeRefused = r;
    });
    const ask = (c: OpenAI, who: string) =>
      c.chat.completions.create({ model: 'slow-model', messages: [{ role: 'user', content: 'hi' }] }).then(
        () => finished.push(who),
        (err: InstanceType<typeof OpenAI.APIError>) => {
          expect(err.status).toBe(429);
          expect(err.headers?.get('x-sluice-error-code')).toBe('SLUICE_ERR_QUEUE_FULL');
          if (who === 'a' && ++refused === 3) threeRefused();
          return `${who} refused`;
        },
      );
    // tenant a: one in flight, four waiting (the whole queue), three refused at once
    const flood = Array.from({ length: 8 }, () => ask(a, 'a'));
    await aRefusedThree;
    // tenant b arrives at a full queue: it takes the place of the flooder's newest waiter
    const victim = await ask(b, 'b');
    expect(victim).not.toBe('b refused');
    await Promise.all(flood);
    // and it is served next to the flood, not after all of it: round-robin between tenants
    expect(finished.indexOf('b')).toBeLessThanOrEqual(2);
    // one of the flooder's waiters gave its place up
    expect(finished.filter((w) => w === 'a')).toHaveLength(4);
    expect(refused).toBe(4);
  });
});

describe('a tenant over its request rate', () => {
  it('is refused before its body is read, so its bodies cost the replica nothing', async () => {
    const c = client(KEY_C);
    const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    await c.chat.completions.create(hi);
    const atAdmission = await sdkError(c.chat.completions.create(hi));
    expect(atAdmission.status).toBe(429);
    // 4 MB that is not JSON: a parse would answer 400; refused before the body it is the same 429
    const post = (key: string, path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${dp.baseURL}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        body,
      });
    const garbage = `{"model": "gpt-4o-mini", "messages": [${'x'.repeat(4 * 1024 * 1024)}`;
    const early = await post(KEY_C, '/chat/completions', garbage);
    const body = (await early.json()) as { error: { message: string; code: string; param: string } };
    expect(early.status).toBe(429);
    expect(early.headers.get('x-sluice-error-code')).toBe('SLUICE_ERR_RATE_LIMITED');
    expect(Number(early.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(early.headers.get('x-sluice-limit')).toBe('one-a-minute/requests');
    expect(body.error.message).toMatch(
      /^Rate limit reached for namespace 'team-c': policy 'one-a-minute' allows 1 requests per minute\. Retry in /,
    );
    expect(body.error.param).toBe('requests');
    // the same on every API path that is admitted against limits
    for (const path of ['/responses', '/embeddings', '/messages'])
      expect((await post(KEY_C, path, garbage)).status).toBe(429);
    // counting tokens reaches no upstream but parses a whole prompt: it counts against the rate too
    expect((await post(KEY_C, '/messages/count_tokens', garbage)).status).toBe(429);
    // the same garbage from a tenant within its limits is parsed: a 400, never the other's 429
    expect((await post(KEY_B, '/chat/completions', garbage)).status).toBe(400);
  });
});

describe('requests that reach no upstream (stored-response lookups, token counts)', () => {
  it("count against the caller's request rate like any other request", async () => {
    const d = client(KEY_D);
    const created = await d.responses.create({ model: 'gpt-4o-mini', input: 'hello' });
    expect((await d.responses.retrieve(created.id)).id).toBe(created.id);
    // the third request of a 2-a-minute tenant: refused, in the limit's own words
    const err = await sdkError(d.responses.retrieve(created.id));
    expect(err.status).toBe(429);
    expect(err.headers?.get('x-sluice-error-code')).toBe('SLUICE_ERR_RATE_LIMITED');
    expect(err.headers?.get('x-sluice-limit')).toBe('two-a-minute/requests');
    expect(err.message).toContain("policy 'two-a-minute' allows 2 requests per minute");
    expect((await sdkError(d.responses.inputItems.list(created.id))).status).toBe(429);
    expect((await sdkError(d.responses.delete(created.id))).status).toBe(429);
    const count = (key: string) =>
      fetch(`${dp.baseURL}/messages/count_tokens`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
    expect((await count(KEY_D)).status).toBe(429);
    expect((await count(KEY_B)).status).toBe(200);
    // a tenant without a request rate keeps reading its own
    const b = client(KEY_B);
    const mine = await b.responses.create({ model: 'gpt-4o-mini', input: 'hello' });
    for (let i = 0; i < 5; i++) expect((await b.responses.retrieve(mine.id)).id).toBe(mine.id);
  });
});

describe('requests refused for what they are', () => {
  it("count against the caller's request rate, so a flood of them is refused before its bodies", async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${dp.baseURL}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY_E}`, 'content-type': 'application/json', ...headers },
        body,
      });
    // within team-e's 1 MiB body limit: read and parsed, then refused as not JSON
    const garbage = `{"model": "gpt-4o-mini", "messages": [${'x'.repeat(512 * 1024)}`;
    // six refusals of six kinds, each answered for what it is: a body that is not JSON, an invalid
    // request, a model on a route the tenant may not use, an invalid token count, a declared body over
    // the tenant's limit, a compressed body
    expect((await post('/chat/completions', garbage)).status).toBe(400);
    expect((await post('/chat/completions', JSON.stringify({ model: 'gpt-4o-mini' }))).status).toBe(400);
    const otherRoute = JSON.stringify({ model: 'slow-model', messages: [{ role: 'user', content: 'hi' }] });
    expect((await post('/chat/completions', otherRoute)).status).toBe(404);
    const count = await post('/messages/count_tokens', JSON.stringify({ model: 'gpt-4o-mini' }), {
      'anthropic-version': '2023-06-01',
    });
    expect(count.status).toBe(400);
    expect((await post('/chat/completions', 'x'.repeat(2 * 1024 * 1024))).status).toBe(413);
    expect((await post('/chat/completions', '{}', { 'content-encoding': 'gzip' })).status).toBe(415);
    // they used up the six requests a minute: a valid request is refused by the rate
    const e = client(KEY_E);
    const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };
    const err = await sdkError(e.chat.completions.create(hi));
    expect(err.status).toBe(429);
    expect(err.headers?.get('x-sluice-limit')).toBe('six-a-minute/requests');
    // and from then on the caller is refused before its body: the same garbage is a 429, not a parse
    const early = await post('/chat/completions', garbage);
    expect(early.status).toBe(429);
    expect(early.headers.get('x-sluice-limit')).toBe('six-a-minute/requests');
    // a tenant without a request rate is unaffected: its garbage is still parsed and refused as such
    const b = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_B}`, 'content-type': 'application/json' },
      body: garbage,
    });
    expect(b.status).toBe(400);
  });

  it('a token limit that refuses every body it parses spends the request rate too', async () => {
    const f = client(KEY_F);
    // each prompt needs more than the day's 200 tokens: parsed, counted, refused by the token window
    const big = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'hello '.repeat(400) }],
    };
    for (let i = 0; i < 3; i++) {
      const err = await sdkError(f.chat.completions.create(big));
      expect(err.status).toBe(429);
      expect(err.headers?.get('x-sluice-limit')).toBe('three-a-minute-200-tokens-a-day/tokens');
    }
    // three refusals spent the three requests a minute: the fourth is refused by the rate
    const fourth = await sdkError(f.chat.completions.create(big));
    expect(fourth.headers?.get('x-sluice-limit')).toBe('three-a-minute-200-tokens-a-day/requests');
    // and the next body is refused before it is read: garbage gets the rate's 429, not a parse's 400
    const early = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_F}`, 'content-type': 'application/json' },
      body: `{"model": "gpt-4o-mini", "messages": [${'x'.repeat(512 * 1024)}`,
    });
    expect(early.status).toBe(429);
    expect(early.headers.get('x-sluice-limit')).toBe('three-a-minute-200-tokens-a-day/requests');
  });
});
