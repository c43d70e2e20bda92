// What the in-memory Responses store keeps is bounded by what it takes in the replica's memory, not
// only by its values' bytes. Each record and item was kept as the Buffer it was built in: a small
// Buffer is a slice of Node's shared pool (Buffer.poolSize, 64 KiB on Node 24), so one kept 30-byte
// item (the reasoning id of a natively served store:false answer) kept a pool alive, and each
// entry's key and structures (~450 bytes) were not counted either: 20,000 such items (0.6 MB
// counted) held ~93 MB. Against `responses.memoryMaxBytes` (64 MiB), a tenant could make a replica
// hold gigabytes; now 4 MiB of tiny items hold ~3.3 MB.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ResponseObject } from '../wire/responses/format.ts';
import { ResponseStates } from './state.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** what the process holds: its heap and its Buffers' memory, after a full collection */
function held(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('the in-memory Responses store', () => {
  it('holds about memoryMaxBytes of memory however small its entries are', async () => {
    const MAX = 4 * 1024 * 1024;
    const states = new ResponseStates(undefined, {
      ttlSeconds: 600,
      maxRecordBytes: MAX,
      memoryMaxBytes: MAX,
      redisMaxBytesPerTenant: MAX,
    });
    const before = held();
    const traffic: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      // what serving a request allocates between two stored items: small Buffers it lets go
      for (let j = 0; j < 8; j++) traffic.push(Buffer.from(`request bytes ${i} ${j} ${'x'.repeat(500)}`));
      traffic.length = 0;
      const id = `rs_${i.toString(16).padStart(40, '0')}`;
      const response = { id: `resp_${i}`, output: [{ type: 'reasoning', id, summary: [] }] };
      await states.saveItems('team-a', response as unknown as ResponseObject, 'openai');
    }
    const grown = held() - before;
    // ~3.3 MB alone; this measures the whole process, and in the loaded full suite the same run read
    // 9 MB once (other work in the reused worker process). The flaw it guards against held ~93 MB.
    expect(grown).toBeLessThan(4 * MAX);
    // the latest are there, as stored
    const last = `rs_${(19_999).toString(16).padStart(40, '0')}`;
    const found = await states.loadItems('team-a', new Map([[last, 1]]), MAX);
    expect(found?.get(last)).toEqual({ item: null, issuer: 'openai' });
  });
});
