// The output items Sluice keeps for later item_references, on both stores (a real redis-server and
// the replica's memory):
//   - deleting a stored response deletes its items with it (they used to stay until their TTL, so a
//     deleted answer could still be referenced back into a prompt);
//   - one tenant can never reference, check or delete another tenant's items or responses;
//   - every item a request names is read in one pass (one MGET on Redis, whatever their number), their
//     number is bounded (MAX_STORED_ITEM_IDS) and what references expand to is bounded like a stored
//     conversation (responses.maxRecordBytes): OpenAI-shaped 400s naming `input`;
//   - an inline item carrying an `id` must be one of the tenant's stored items, as OpenAI checks it
//     (404 "Item with id ... not found"), and a non-string id is a 400.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STORED_ITEM_IDS } from '../../dataplane/src/api/responses_validate.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { sha256 } from '../policy/fixtures.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.stop();
});

/** Calls of one command since Redis started (INFO commandstats). */
function commandCalls(name: string): number {
  const m = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(redis.cli('INFO', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

for (const storeType of ['redis', 'memory'] as const) {
  describe(`stored output items (${storeType} store)`, () => {
    let dp: InProcessDataplane;
    let a: OpenAI;
    let b: OpenAI;

    beforeAll(async () => {
      dp = await startDataplane({
        store: storeType === 'redis' ? { type: 'redis', redis: { url: redis.url } } : { type: 'memory' },
        responses: { maxRecordBytes: 16 * 1024 },
        providers: [
          {
            name: 'mock',
            type: 'mock',
            models: [{ name: 'm' }],
            mock: { outputTokens: 12, text: 'a stored answer of some sixty bytes, give or take a few' },
          },
        ],
        routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
        namespaces: [
          { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-a-${storeType}`) }] } },
          { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-b-${storeType}`) }] } },
        ],
      });
      a = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-a-${storeType}`, maxRetries: 0 });
      b = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-b-${storeType}`, maxRetries: 0 });
    });
    afterAll(async () => {
      await dp?.stop();
    });

    /** a stored response of `client` and the id of its output message */
    async function stored(client: OpenAI): Promise<{ id: string; itemId: string }> {
      const r = await client.responses.create({ model: 'm', input: 'Hi' });
      const itemId = r.output[0]?.id as string;
      expect(itemId).toMatch(/^msg_/);
      return { id: r.id, itemId };
    }

    const referencing = (client: OpenAI, id: string) =>
      client.responses.create({
        model: 'm',
        input: [
          { type: 'item_reference', id },
          { role: 'user', content: 'And?' },
        ],
      });

    async function notFound(p: Promise<unknown>, id: string): Promise<void> {
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('input');
      expect((err as Error).message).toContain(`Item with id '${id}' not found`);
    }

    it('deleting a response deletes the items kept for its item_references', async () => {
      const { id, itemId } = await stored(a);
      expect((await referencing(a, itemId)).status).toBe('completed');
      // the tenant's bounded layout (store/redis_bounded.ts): its hash tag, then the item's key
      if (storeType === 'redis')
        expect(redis.cli('EXISTS', `sluice:rec:{team-a}:ritem:${itemId}`).trim()).toBe('1');
      expect((await a.responses.delete(id)) as unknown).toMatchObject({ id, deleted: true });
      await notFound(referencing(a, itemId), itemId);
      if (storeType === 'redis') {
        expect(redis.cli('EXISTS', `sluice:rec:{team-a}:ritem:${itemId}`).trim()).toBe('0');
        // and their bytes left the tenant's bound with them: the index holds no deleted key
        expect(
          redis.cli('ZSCORE', 'sluice:rec:{team-a}:#idx', `sluice:rec:{team-a}:ritem:${itemId}`).trim(),
        ).toBe('');
        expect(redis.cli('ZSCORE', 'sluice:rec:{team-a}:#idx', `sluice:rec:{team-a}:resp:${id}`).trim()).toBe(
          '',
        );
      }
    });

    it("another tenant can neither reference, name inline, nor delete a tenant's items", async () => {
      const { id, itemId } = await stored(a);
      await notFound(referencing(b, itemId), itemId);
      await notFound(
        b.responses.create({
          model: 'm',
          input: [
            { type: 'message', role: 'assistant', id: itemId, content: 'forged' },
            { role: 'user', content: 'x' },
          ],
        } as never),
        itemId,
      );
      await expect(b.responses.delete(id)).rejects.toMatchObject({ status: 404 });
      await expect(b.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
      // the owner's response and items are untouched by those attempts
      expect((await a.responses.retrieve(id)).id).toBe(id);
      expect((await referencing(a, itemId)).status).toBe('completed');
    });

    it('an inline item carrying an id must be a stored item of the tenant (OpenAI checks it)', async () => {
      const { itemId } = await stored(a);
      const send = (id: unknown) =>
        a.responses.create({
          model: 'm',
          input: [
            { type: 'message', role: 'assistant', id, content: 'an earlier answer' },
            { role: 'user', content: 'go on' },
          ],
        } as never);
      expect(((await send(itemId)) as { status: string }).status).toBe('completed');
      await notFound(send('msg_never_stored_here'), 'msg_never_stored_here');
      const err = await send(42).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input[0].id');
    });

    it(`more than ${MAX_STORED_ITEM_IDS} named items is a 400 naming input, before any read`, async () => {
      const input = [
        ...Array.from({ length: MAX_STORED_ITEM_IDS + 1 }, (_, i) => ({
          type: 'item_reference' as const,
          id: `msg_${i}`,
        })),
        { role: 'user' as const, content: 'x' },
      ];
      const before = storeType === 'redis' ? commandCalls('mget') : 0;
      const err = await a.responses.create({ model: 'm', input }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
      expect((err as Error).message).toContain(`at most ${MAX_STORED_ITEM_IDS} stored items`);
      if (storeType === 'redis') expect(commandCalls('mget')).toBe(before);
    });

    it('references that expand past responses.maxRecordBytes are a 400 naming input', async () => {
      const { itemId } = await stored(a);
      // ~150 stored bytes each: 200 references of one small item would be ~30 KiB of prompt
      const input = [
        ...Array.from({ length: 200 }, () => ({ type: 'item_reference' as const, id: itemId })),
        { role: 'user' as const, content: 'x' },
      ];
      const err = await a.responses.create({ model: 'm', input }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
      expect((err as Error).message).toContain('maxRecordBytes');
    });

    if (storeType === 'redis') {
      it('every item a request names is read in one MGET, not one GET each', async () => {
        const items = await Promise.all([stored(a), stored(a), stored(a), stored(a), stored(a)]);
        // the GETs a request naming no item makes (each write's bound script reads its tenant's used
        // bytes, and INFO counts a script's commands too): naming items must add none to them
        let gets = commandCalls('get');
        await stored(a);
        const perRequest = commandCalls('get') - gets;
        gets = commandCalls('get');
        const mgets = commandCalls('mget');
        const r = await a.responses.create({
          model: 'm',
          input: [
            ...items.slice(0, 3).map((s) => ({ type: 'item_reference' as const, id: s.itemId })),
            ...items.slice(3).map((s) => ({
              type: 'message' as const,
              role: 'assistant' as const,
              id: s.itemId,
              content: 'inline',
            })),
            { role: 'user' as const, content: 'x' },
          ],
        } as never);
        expect((r as { status: string }).status).toBe('completed');
        expect(commandCalls('mget')).toBe(mgets + 1);
        expect(commandCalls('get')).toBe(gets + perRequest);
      });
    }
  });
}
