// Shared records (the Responses API's conversation state) in Redis. Unlike limits they go straight
// to Redis and throw on failure: the caller must tell "not found" from "could not look" (the circuit
// and the local fallback are for limits only). A reply that never comes gives up after the store's
// late-reply bound. Several records are one MGET / DEL on a standalone Redis; record keys carry no
// hash tag, so on a Cluster they sit on different slots and one command per key is sent, all at once.
import { Cluster, type Redis } from 'ioredis';
import { rejectAfter } from './deadline.ts';

export class RedisRecords {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  readonly #lateReplyMs: number;

  constructor(client: Redis | Cluster, keyPrefix: string, lateReplyMs: number) {
    this.#client = client;
    this.#prefix = `${keyPrefix}rec:`;
    this.#lateReplyMs = lateReplyMs;
  }

  async get(key: string): Promise<Buffer | undefined> {
    return (await rejectAfter(this.#client.getBuffer(this.#prefix + key), this.#lateReplyMs)) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    const full = keys.map((k) => this.#prefix + k);
    if (full.length === 0) return [];
    const c = this.#client;
    const values =
      c instanceof Cluster
        ? await Promise.all(full.map((k) => rejectAfter(c.getBuffer(k), this.#lateReplyMs)))
        : await rejectAfter(c.mgetBuffer(full), this.#lateReplyMs);
    return values.map((v) => v ?? undefined);
  }

  async set(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await rejectAfter(this.#client.set(this.#prefix + key, value, 'PX', ttlMs), this.#lateReplyMs);
  }

  async delete(keys: readonly string[]): Promise<number> {
    const full = keys.map((k) => this.#prefix + k);
    if (full.length === 0) return 0;
    const c = this.#client;
    if (!(c instanceof Cluster)) return rejectAfter(c.del(full), this.#lateReplyMs);
    const counts = await Promise.all(full.map((k) => rejectAfter(c.del(k), this.#lateReplyMs)));
    return counts.reduce((a, b) => a + b, 0);
  }
}
