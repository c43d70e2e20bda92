// Responses API conversation state across replicas, tenants and limits: two `sluice serve` processes
// on one real redis-server continue each other's conversations; another tenant can neither continue,
// read nor delete them; the expanded conversation is what limits count; an output cap ends a stream
// with response.incomplete (max_output_tokens) and a stored record that says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { client, sha256, tenantConfig } from '../policy/fixtures.ts';

let redis: RedisServer;
let cfg: TestConfigDir;
let replicas: DataplaneProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
  cfg = configDir(
    tenantConfig({
      store: { type: 'redis', redis: { url: redis.url, replicas: 2, commandTimeoutMs: 2_000 } },
      mock: {
        outputTokens: 12,
        chunkTokens: 1,
        text: 'one two three four five six seven eight nine ten eleven twelve',
      },
      namespaces: [
        { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team-a') }] } },
        { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team-b') }] } },
        {
          name: 'capped',
          match: { apiKeys: [{ name: 'k', sha256: sha256('sk-capped') }] },
          policies: ['cap'],
        },
        {
          name: 'small',
          match: { apiKeys: [{ name: 'k', sha256: sha256('sk-small') }] },
          policies: ['small'],
        },
      ],
      policies: [
        { name: 'cap', maxOutputTokens: { limit: 4 } },
        { name: 'small', maxInputTokens: 60 },
      ],
    }),
  );
  replicas = await Promise.all([spawnDataplane(cfg.file), spawnDataplane(cfg.file)]);
}, 90_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await redis?.stop();
  cfg?.cleanup();
});

const url = (i: number) => (replicas[i] as DataplaneProcess).baseURL;

describe('conversation state shared through Redis', () => {
  it('a conversation started on one replica continues on the other', async () => {
    const a = client(url(0), 'sk-team-a');
    const b = client(url(1), 'sk-team-a');
    const first = await a.responses.create({ model: 'gpt-4o-mini', input: 'My name is Ada.' });
    const second = await b.responses.create({
      model: 'gpt-4o-mini',
      input: 'Who am I?',
      previous_response_id: first.id,
    });
    expect(second.status).toBe('completed');
    // the expanded conversation (user, assistant, user) was counted: more input than the turn alone
    const alone = await b.responses.create({ model: 'gpt-4o-mini', input: 'Who am I?' });
    expect(second.usage?.input_tokens).toBeGreaterThan((alone.usage?.input_tokens ?? 0) + 5);
    const items = await a.responses.inputItems.list(second.id);
    expect(items.data.map((i) => (i as { content: Array<{ text: string }> }).content[0]?.text)).toEqual([
      'Who am I?',
    ]);
    expect((await b.responses.retrieve(first.id)).id).toBe(first.id);
  });

  it('another tenant can neither continue, read nor delete it', async () => {
    const a = client(url(0), 'sk-team-a');
    const other = client(url(1), 'sk-team-b');
    const mine = await a.responses.create({ model: 'gpt-4o-mini', input: 'secret plans' });
    await expect(other.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.inputItems.list(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      other.responses.create({ model: 'gpt-4o-mini', input: 'and then?', previous_response_id: mine.id }),
    ).rejects.toMatchObject({ status: 400, code: 'previous_response_not_found' });
    expect((await a.responses.retrieve(mine.id)).id).toBe(mine.id);
  });

  it('an item_reference to an item made on one replica resolves on the other, for its tenant only', async () => {
    const a = client(url(0), 'sk-team-a');
    const first = await a.responses.create({ model: 'gpt-4o-mini', input: 'My name is Ada.' });
    const reference = { type: 'item_reference' as const, id: first.output[0]?.id as string };
    const b = client(url(1), 'sk-team-a');
    const second = await b.responses.create({
      model: 'gpt-4o-mini',
      input: [reference, { role: 'user', content: 'Who am I?' }],
    });
    expect(second.status).toBe('completed');
    // the referenced answer was sent (and counted) as content
    const alone = await b.responses.create({ model: 'gpt-4o-mini', input: 'Who am I?' });
    expect(second.usage?.input_tokens).toBeGreaterThan((alone.usage?.input_tokens ?? 0) + 3);
    await expect(
      client(url(1), 'sk-team-b').responses.create({
        model: 'gpt-4o-mini',
        input: [reference, { role: 'user', content: 'Who am I?' }],
      }),
    ).rejects.toMatchObject({ status: 404, param: 'input' });
  });

  it('limits count the expanded conversation', async () => {
    const small = client(url(0), 'sk-small');
    let prev: string | undefined;
    let refused: unknown;
    for (let turn = 0; turn < 12 && !refused; turn++) {
      try {
        const r = await small.responses.create({
          model: 'gpt-4o-mini',
          input: 'tell me more about it',
          ...(prev ? { previous_response_id: prev } : {}),
        });
        prev = r.id;
      } catch (err) {
        refused = err;
      }
    }
    // each turn alone is far under 60 tokens; the growing conversation is not
    expect(prev).toBeDefined();
    expect(refused).toMatchObject({ status: 400 });
  });
});

describe('output caps', () => {
  it('a capped stream ends with response.incomplete, and so does the stored response', async () => {
    const c = client(url(1), 'sk-capped');
    const stream = await c.responses.create({ model: 'gpt-4o-mini', input: 'count', stream: true });
    let text = '';
    let last:
      | { type: string; response?: { id: string; status?: string; incomplete_details?: unknown } }
      | undefined;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      last = ev as typeof last;
    }
    expect(last?.type).toBe('response.incomplete');
    expect(last?.response?.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(text.trim().split(/\s+/).length).toBeLessThanOrEqual(4);
    const stored = await client(url(0), 'sk-capped').responses.retrieve(last?.response?.id ?? '');
    expect(stored.status).toBe('incomplete');
    expect(stored.output_text).toBe(text);
  });
});
