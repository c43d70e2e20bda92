// The in-memory conversation store is shared by every tenant of the replica: when full, it must drop
// the records of the tenant holding the most, never let one tenant's flood evict the others'.
import { describe, expect, it } from 'vitest';
import type { ResponseObject } from '../wire/responses/format.ts';
import { ResponseStates, type StoredResponse } from './state.ts';

const MAX = 40_000;
const states = new ResponseStates(undefined, {
  ttlSeconds: 60,
  maxRecordBytes: MAX,
  memoryMaxBytes: MAX,
  redisMaxBytesPerTenant: MAX,
});

function record(id: string, bytes: number): StoredResponse {
  const response = { id, object: 'response', status: 'completed', output: [] } as unknown as ResponseObject;
  return {
    v: 1,
    response,
    items: [{ type: 'message', role: 'user', content: 'x'.repeat(bytes) }],
    inputStart: 0,
    inputEnd: 1,
  };
}

describe('ResponseStates in memory', () => {
  it("evicts the largest holder's oldest records first", async () => {
    // unique namespaces: the memory store is one per process
    const victim = `victim-${process.pid}-${Date.now()}`;
    const flooder = `flooder-${process.pid}-${Date.now()}`;
    expect(await states.save(victim, record('resp_victim1', 4_000))).toBe(true);
    expect(await states.save(victim, record('resp_victim2', 4_000))).toBe(true);
    for (let i = 0; i < 30; i++) await states.save(flooder, record(`resp_flood${i}`, 4_000));
    expect(await states.load(victim, 'resp_victim1')).toBeDefined();
    expect(await states.load(victim, 'resp_victim2')).toBeDefined();
    expect(await states.load(flooder, 'resp_flood29')).toBeDefined();
    expect(await states.load(flooder, 'resp_flood0')).toBeUndefined();
    // records are per tenant: the flooder cannot read or delete the victim's by id
    expect(await states.load(flooder, 'resp_victim1')).toBeUndefined();
    expect(await states.delete(flooder, 'resp_victim1')).toBe(false);
    expect(await states.delete(victim, 'resp_victim1')).toBe(true);
  });
});
