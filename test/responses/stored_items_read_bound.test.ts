// What a request's named stored items take is bounded BEFORE they are read. A tenant names its own
// large stored items (item_reference items, or inline stubs `{role: 'assistant', id, content: 'x'}`
// that carry one's id): Sluice read every one of them (one MGET of up to 2048 values, each up to
// responses.maxRecordBytes, from a tenant's share of Redis of up to 256 MiB) and parsed each as JSON,
// and only then found that the references expanded past the bound; inline stubs were never bounded at
// all. The request then failed before its admission, so it counted against no limit: a tenant could
// make a replica pull and parse its whole share of Redis per request, as often as it liked. The
// stored sizes are now checked first (one script on Redis, the entry sizes in memory), and named
// items larger as stored than responses.maxRecordBytes are a 400 naming `input` with nothing read.
// Real in-process dataplane, a real redis-server, the official openai SDK.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { sha256 } from '../policy/fixtures.ts';

const MAX_RECORD = 16 * 1024;
/** ~12 KiB of output per answer: each stored item is under the bound, a dozen of them far over it */
const BIG = { outputTokens: 1_100, text: 'abcdefghij ' };
const ITEMS = 12;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

/** Bytes Redis has sent to its clients since it started (INFO stats). */
function redisSentBytes(): number {
  return Number(/total_net_output_bytes:(\d+)/.exec(redis.cli('INFO', 'stats'))?.[1] ?? Number.NaN);
}

for (const storeType of ['redis', 'memory'] as const) {
  describe(`named stored items are bounded before they are read (${storeType} store)`, () => {
    let dp: InProcessDataplane;
    let a: OpenAI;
    const itemIds: string[] = [];

    beforeAll(async () => {
      dp = await startDataplane({
        store: storeType === 'redis' ? { type: 'redis', redis: { url: redis.url } } : { type: 'memory' },
        responses: { maxRecordBytes: MAX_RECORD },
        providers: [{ name: 'mock', type: 'mock', models: [{ name: 'm' }], mock: BIG }],
        routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
        namespaces: [
          { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-rb-${storeType}`) }] } },
        ],
      });
      a = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-rb-${storeType}`, maxRetries: 0 });
      for (let i = 0; i < ITEMS; i++) {
        const r = await a.responses.create({ model: 'm', input: `turn ${i}` });
        itemIds.push(r.output[0]?.id as string);
      }
    });
    afterAll(async () => {
      await dp?.stop();
    });

    /** The request's answer, and what reading its items cost: Redis bytes sent, large JSON parses. */
    async function measured(input: unknown[]): Promise<{ err: unknown; sent: number; parses: number }> {
      const parse = vi.spyOn(JSON, 'parse');
      const before = storeType === 'redis' ? redisSentBytes() : 0;
      try {
        const err = await a.responses.create({ model: 'm', input } as never).catch((e: unknown) => e);
        const sent = storeType === 'redis' ? redisSentBytes() - before : 0;
        const parses = parse.mock.calls.filter(([text]) => typeof text === 'string' && text.length > 8_000);
        return { err, sent, parses: parses.length };
      } finally {
        parse.mockRestore();
      }
    }

    function expectRefused(err: unknown): void {
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
      expect((err as Error).message).toContain('maxRecordBytes');
    }

    it('item_references that expand past the bound are refused with nothing read', async () => {
      const refs = itemIds.map((id) => ({ type: 'item_reference', id }));
      const { err, sent, parses } = await measured([...refs, { role: 'user', content: 'x' }]);
      expectRefused(err);
      // ~12 KiB each: reading them would have sent ~150 KiB (the INFO reply itself is ~2 KiB)
      if (storeType === 'redis') expect(sent).toBeLessThan(MAX_RECORD);
      expect(parses).toBe(0);
    });

    it('inline stubs carrying the ids of large stored items are bounded the same way', async () => {
      const stubs = itemIds.map((id) => ({ type: 'message', role: 'assistant', id, content: 'x' }));
      const { err, sent, parses } = await measured([...stubs, { role: 'user', content: 'x' }]);
      expectRefused(err);
      if (storeType === 'redis') expect(sent).toBeLessThan(MAX_RECORD);
      expect(parses).toBe(0);
    });

    it('items within the bound are still found and used, referenced or inline', async () => {
      // one ~12 KiB item fits the 16 KiB bound, referenced or sent back inline with its id
      for (const named of [
        { type: 'item_reference', id: itemIds[0] },
        { type: 'message', role: 'assistant', id: itemIds[1], content: 'an earlier answer' },
      ]) {
        const r = await a.responses.create({
          model: 'm',
          input: [named, { role: 'user', content: 'go on' }],
        } as never);
        expect((r as { status: string }).status).toBe('completed');
      }
    });
  });
}
