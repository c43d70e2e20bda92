// Conversation state of the Responses API, kept by Sluice itself so `previous_response_id` works on
// every backend (and on any replica when the store is Redis). One record per stored response, keyed by
// tenant and id: another tenant's id is simply not found. A record holds the whole conversation the
// next turn continues from (earlier turns, this turn's input, this turn's output as input items), so
// continuing costs one read whatever the conversation's length; its size is bounded by
// `responses.maxRecordBytes`. Records expire after `responses.ttlSeconds`.
import { LruCache } from '../cache/lru.ts';
import { GatewayError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import type { OutputItem, ResponseObject } from '../wire/responses/format.ts';
import { ITEM_ID, RESPONSE_ID } from '../wire/responses/format.ts';
import { outputAsInput, reasoningPairs } from './reasoning_replay.ts';

type Obj = Record<string, unknown>;

/**
 * What the memory store holds per entry beside its value and key: the Map entry, the entry object,
 * the Buffer's object and backing store (~450 bytes measured with Node 24; a 30-byte item took ~480).
 */
const ENTRY_OVERHEAD = 512;

export interface StateSettings {
  ttlSeconds: number;
  maxRecordBytes: number;
  memoryMaxBytes: number;
  /** each tenant's stored responses and items in Redis, in bytes (store/redis_bounded.ts) */
  redisMaxBytesPerTenant: number;
}

export interface StoredResponse {
  v: 1;
  response: ResponseObject;
  /** the conversation as input items: history, then this turn's input, then this turn's output */
  items: Obj[];
  /** this turn's input within `items` (GET /v1/responses/{id}/input_items lists it) */
  inputStart: number;
  inputEnd: number;
  /** the provider that keeps its own copy of the response (a native backend, `store` on): DELETE asks it too */
  issuer?: string;
  /**
   * The items of `items` a next turn names by id, each to the provider that issued it: reasoning
   * items and the item that followed each (reasoning_replay.ts). Absent: every item goes as content.
   */
  byId?: Record<string, string>;
}

/** A stored output item as loadItems finds it. */
export interface StoredItem {
  /** as a later turn's input item; null for one that carries nothing into a turn (reasoning) */
  item: Obj | null;
  /** the provider whose own store issued the id (a native Responses API backend), if any */
  issuer?: string;
}

/** The store's shared records, or none (then this replica's memory). */
export type RecordStore = Pick<Store, 'recordGet' | 'recordGetWithin' | 'recordSet' | 'recordDelete'>;

/**
 * One per process: records survive config reloads like the response cache does. When full it drops
 * the oldest record of the tenant holding the most bytes (lru.ts), so one tenant's flood of stored
 * responses only ever evicts its own (a single LRU let it evict every other tenant's conversations).
 * Entries are not bounded in number, so each counts its key and ENTRY_OVERHEAD beside its value.
 */
const memory = new LruCache({
  maxEntries: Number.POSITIVE_INFINITY,
  maxBytes: 64 * 1024 * 1024,
  maxEntryBytes: Number.POSITIVE_INFINITY,
  entryOverhead: ENTRY_OVERHEAD,
});

/** A record's key in memory: the tenant first, as the LRU tells tenants apart. */
const memoryKey = (namespace: string, id: string): string => `${namespace}/${id}`;

function unavailable(err: unknown): GatewayError {
  return new GatewayError('SLUICE_ERR_STORE_UNAVAILABLE', 'the conversation state store is not reachable', {
    cause: err,
  });
}

export class ResponseStates {
  readonly #shared: RecordStore | undefined;
  readonly #settings: StateSettings;

  constructor(shared: RecordStore | undefined, settings: StateSettings) {
    this.#shared =
      shared?.recordGet && shared.recordGetWithin && shared.recordSet && shared.recordDelete
        ? shared
        : undefined;
    this.#settings = settings;
  }

  /** the shared store's key within the tenant (the store puts each tenant's records apart) */
  #key(id: string): string {
    return `resp:${id}`;
  }

  #bound(namespace: string) {
    return { tenant: namespace, maxBytes: this.#settings.redisMaxBytesPerTenant };
  }

  async load(namespace: string, id: string): Promise<StoredResponse | undefined> {
    if (!RESPONSE_ID.test(id)) return undefined;
    let raw: Buffer | undefined;
    try {
      raw = this.#shared
        ? await this.#shared.recordGet?.(this.#key(id), namespace)
        : memory.get(memoryKey(namespace, id))?.value;
    } catch (err) {
      throw unavailable(err);
    }
    if (!raw) return undefined;
    return JSON.parse(raw.toString('utf8')) as StoredResponse;
  }

  /** false when the record is over the size bound (the response was answered, just not kept) */
  async save(namespace: string, record: StoredResponse): Promise<boolean> {
    const value = Buffer.from(JSON.stringify(record));
    if (value.length > this.#settings.maxRecordBytes) return false;
    const id = record.response.id;
    const ttlMs = this.#settings.ttlSeconds * 1000;
    if (!this.#shared) {
      memory.limits = { ...memory.limits, maxBytes: this.#settings.memoryMaxBytes };
      memory.set(memoryKey(namespace, id), value, Date.now() + ttlMs);
      return true;
    }
    try {
      // false: larger than the tenant's whole bound, so not kept
      return (await this.#shared.recordSet?.(this.#key(id), value, ttlMs, this.#bound(namespace))) === true;
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * Stored output items by id, as the input items a later turn sends back (an `item_reference`
   * names one; an inline item may carry its id): one read for all of them (one script on Redis, one
   * pass over memory), whatever their number. The map holds null for an item that carries nothing
   * into a next turn (reasoning); an id this tenant's stored responses never had is absent. `issuer`:
   * the provider whose own store issued the id (a native Responses API backend), if any.
   * `named`: each id and how many times the request names it. Undefined, with no item read or
   * parsed, when the items take more than `maxBytes` as stored, each counted as often as it is
   * named: a few bytes of ids must not make the replica read and parse megabytes (a tenant's stored
   * items in Redis may total 256 MiB), least of all for a request that is then refused before its
   * admission counts it.
   */
  async loadItems(
    namespace: string,
    named: ReadonlyMap<string, number>,
    maxBytes: number,
  ): Promise<Map<string, StoredItem> | undefined> {
    const wanted = [...named.keys()].filter((id) => ITEM_ID.test(id));
    const weights = wanted.map((id) => named.get(id) ?? 1);
    let raws: Array<Buffer | undefined> | undefined;
    try {
      if (this.#shared)
        raws = await (this.#shared.recordGetWithin as NonNullable<RecordStore['recordGetWithin']>)(
          wanted.map((id) => this.#itemKey(id)),
          namespace,
          weights,
          maxBytes,
        );
      else {
        raws = wanted.map((id) => memory.get(memoryKey(namespace, `item:${id}`))?.value);
        let total = 0;
        raws.forEach((raw, i) => {
          total += (raw?.length ?? 0) * (weights[i] as number);
        });
        if (total > maxBytes) raws = undefined;
      }
    } catch (err) {
      throw unavailable(err);
    }
    if (!raws) return undefined;
    const found = new Map<string, StoredItem>();
    wanted.forEach((id, i) => {
      const raw = (raws as Array<Buffer | undefined>)[i];
      if (!raw) return;
      const { item, issuer } = JSON.parse(raw.toString('utf8')) as { item: Obj | null; issuer?: string };
      found.set(id, { item, issuer });
    });
    return found;
  }

  /**
   * Keep each output item of a stored response under its id, for the item_references of later turns,
   * with the provider that issued the ids when it keeps them itself (`issuer`, a native backend).
   */
  async saveItems(namespace: string, response: ResponseObject, issuer?: string): Promise<void> {
    const ttlMs = this.#settings.ttlSeconds * 1000;
    const writes: Array<Promise<unknown>> = [];
    for (const item of response.output) {
      if (typeof item.id !== 'string' || !ITEM_ID.test(item.id)) continue;
      const value = Buffer.from(JSON.stringify({ item: asInput(item) ?? null, issuer }));
      if (value.length > this.#settings.maxRecordBytes) continue;
      if (!this.#shared) {
        // the tenant's share of the same fair LRU as its records (`item:` keeps them apart from those)
        memory.limits = { ...memory.limits, maxBytes: this.#settings.memoryMaxBytes };
        memory.set(memoryKey(namespace, `item:${item.id}`), value, Date.now() + ttlMs);
      } else
        writes.push(
          this.#shared.recordSet?.(this.#itemKey(item.id), value, ttlMs, this.#bound(namespace)) ??
            Promise.resolve(),
        );
    }
    try {
      await Promise.all(writes);
    } catch (err) {
      throw unavailable(err);
    }
  }

  #itemKey(id: string): string {
    return `ritem:${id}`;
  }

  /**
   * A stored response and the output items kept under their ids for later item_references: all of
   * it goes at once (one script, which gives their bytes back to the tenant's bound), so a deleted
   * response's items cannot be referenced until their TTL. Every key is the caller's tenant's:
   * another tenant's id is simply not found. `first` runs on the found record before anything is
   * deleted (its rejection keeps the record: the provider's copy).
   */
  async delete(
    namespace: string,
    id: string,
    first?: (record: StoredResponse) => Promise<void> | undefined,
  ): Promise<boolean> {
    const record = await this.load(namespace, id);
    if (!record) return false;
    await first?.(record);
    const itemIds: string[] = [];
    for (const item of record.response.output)
      if (typeof item.id === 'string' && ITEM_ID.test(item.id)) itemIds.push(item.id);
    if (!this.#shared) {
      for (const itemId of itemIds) memory.delete(memoryKey(namespace, `item:${itemId}`));
      return memory.delete(memoryKey(namespace, id));
    }
    const keys = [this.#key(id), ...itemIds.map((itemId) => this.#itemKey(itemId))];
    try {
      return ((await this.#shared.recordDelete?.(keys, namespace)) ?? 0) > 0;
    } catch (err) {
      throw unavailable(err);
    }
  }
}

/** A client's `input` as items (a string is one user message). */
export function inputItems(input: unknown): Obj[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return (input as Obj[]).map((item) => (item.type === undefined ? { type: 'message', ...item } : item));
}

/** An output item as the input item a later turn sends back (ids and statuses are per response). */
function asInput(item: OutputItem): Obj | undefined {
  if (item.type === 'message') return { type: 'message', role: 'assistant', content: item.content };
  if (item.type === 'function_call')
    return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
  // reasoning: not every backend can take it back, and none but its author can read it
  return undefined;
}

/** The record for a finished response: `items` is the expanded input of the request that made it. */
export function recordFor(
  response: ResponseObject,
  items: Obj[],
  inputStart: number,
  issuer: string | undefined,
): StoredResponse {
  const all = items.concat(outputAsInput(response, issuer, asInput));
  const record: StoredResponse = { v: 1, response, items: all, inputStart, inputEnd: items.length };
  if (issuer !== undefined) record.issuer = issuer;
  const byId = reasoningPairs(all);
  if (byId) record.byId = byId;
  return record;
}
