// Stores outlive config reloads: a reload builds a new policy gate, but the counters behind it must
// not reset (a hot reload would otherwise hand every tenant a fresh budget). The registry hands out one
// store per distinct store config and closes it only when the last gate using it is closed.
import { createHash } from 'node:crypto';
import type { SluiceConfig } from '../config/schema.ts';
import { MemoryStore } from './memory.ts';
import type { StoreLogger } from './redis.ts';
import type { Store } from './types.ts';

export interface StoreLease {
  store: Store;
  release(): Promise<void>;
}

interface Held {
  store: Store;
  refs: number;
}

export class StoreRegistry {
  readonly #held = new Map<string, Held>();
  readonly #log: StoreLogger | undefined;

  constructor(log?: StoreLogger) {
    this.#log = log;
  }

  async acquire(cfg: SluiceConfig['store'], password: string | undefined): Promise<StoreLease> {
    // A rotated password yields a new store (the digest keeps the secret itself out of the map key).
    const secret = password === undefined ? null : createHash('sha256').update(password).digest('hex');
    const id = JSON.stringify({ cfg, secret });
    let held = this.#held.get(id);
    if (!held) {
      held = { store: await this.#create(cfg, password), refs: 0 };
      this.#held.set(id, held);
    }
    held.refs++;
    const h = held;
    let released = false;
    return {
      store: h.store,
      release: async () => {
        if (released) return;
        released = true;
        h.refs--;
        if (h.refs === 0) {
          this.#held.delete(id);
          await h.store.close();
        }
      },
    };
  }

  async #create(cfg: SluiceConfig['store'], password: string | undefined): Promise<Store> {
    if (cfg.type !== 'redis' || !cfg.redis) return new MemoryStore();
    const r = cfg.redis;
    // loaded only for a Redis store: ioredis is ~5 MiB of resident memory that the operator's
    // preflight (always a memory store) and single-replica dataplanes never use
    const { RedisStore } = await import('./redis.ts');
    const store = new RedisStore({
      settings: {
        url: r.url,
        password,
        commandTimeoutMs: r.commandTimeoutMs,
        connectTimeoutMs: r.connectTimeoutMs,
      },
      keyPrefix: r.keyPrefix,
      failMode: r.failMode,
      replicas: r.replicas,
      failureThreshold: r.failureThreshold,
      openAfterMs: r.openAfterMs,
      retryIntervalMs: r.retryIntervalMs,
      log: this.#log,
    });
    await store.ready(r.connectTimeoutMs);
    return store;
  }
}
