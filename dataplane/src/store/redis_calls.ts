// The store's script calls on its ioredis client: each call is built as the ONE argument array it is
// sent from ([sha, number of keys, ...keys, ...argv], keys prefixed as they are pushed), a restarted
// Redis's empty script cache costs one EVAL by source, and on a Cluster the batches that may share a
// call are those of one hash slot. Deadlines, outcomes and replays are store/redis.ts's.
import { Cluster, type Redis } from 'ioredis';
import { pushAdmitKeys, pushSettleKeys, slotGroup } from './redis_admission.ts';
import { type LuaScript, scripts } from './redis_scripts.ts';
import type { AdmitBatch, SettleBatch } from './types.ts';

/** How long a cancelled reservation's tombstone and a merge's id are kept. */
const TOMBSTONE_MS = 10 * 60_000;

export class ScriptCalls {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;

  constructor(client: Redis | Cluster, keyPrefix: string) {
    this.#client = client;
    this.#prefix = keyPrefix;
  }

  async load(): Promise<void> {
    const client = this.#client;
    for (const s of Object.values(scripts)) {
      if (client instanceof Cluster)
        await Promise.all(client.nodes('master').map((n) => n.script('LOAD', s.source)));
      else await client.script('LOAD', s.source);
    }
  }

  async #call(s: LuaScript, args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#client.call('evalsha', args);
    } catch (err) {
      // A restarted Redis has an empty script cache: load the script by sending its source once.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        args[0] = s.source;
        return this.#client.call('eval', args);
      }
      throw err;
    }
  }

  /** Batches coalesced into one call share it; on a Cluster, only batches of one slot can. */
  group(firstKey: string | undefined): string {
    return this.#client instanceof Cluster && firstKey !== undefined
      ? slotGroup(this.#prefix + firstKey)
      : '';
  }

  /** ADMIT_MANY: the raw reply (one JSON array, an entry per batch). */
  admitMany(batches: AdmitBatch[], specs: string[]): Promise<unknown> {
    const args: Array<string | number> = [scripts.admitMany.sha, 0];
    for (const b of batches) pushAdmitKeys(b, this.#prefix, args);
    args[1] = args.length - 2;
    for (const spec of specs) args.push(spec);
    return this.#call(scripts.admitMany, args);
  }

  /** SETTLE_MANY: one entry per batch (1 applied, 0 nothing to apply, or the refusal's text). */
  async settleMany(batches: SettleBatch[], specs: string[]): Promise<unknown[]> {
    const args: Array<string | number> = [scripts.settleMany.sha, 0];
    for (const b of batches) pushSettleKeys(b, this.#prefix, args);
    args[1] = args.length - 2;
    for (const spec of specs) args.push(spec);
    const raw = await this.#call(scripts.settleMany, args);
    if (!Array.isArray(raw) || raw.length !== batches.length)
      throw new Error(`settlement reply has no entry for each of ${batches.length} batches`);
    return raw;
  }

  /** CANCEL_LUA for one admission (`spec` as it was admitted with). */
  cancel(batch: AdmitBatch, spec: string, granted: boolean): Promise<unknown> {
    const args: Array<string | number> = [scripts.cancel.sha, 0];
    pushAdmitKeys(batch, this.#prefix, args);
    args[1] = args.length - 2;
    args.push(spec, granted ? '1' : '0', TOMBSTONE_MS);
    return this.#call(scripts.cancel, args);
  }

  /** MERGE_LUA: outage usage added to a window once (`idKey` marks it done). */
  merge(key: string, idKey: string, delta: number, ttlMs: number): Promise<unknown> {
    const p = this.#prefix;
    return this.#call(scripts.merge, [scripts.merge.sha, 2, p + key, p + idKey, delta, ttlMs, TOMBSTONE_MS]);
  }
}
