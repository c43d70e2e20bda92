// Reasoning items across `previous_response_id` turns. OpenAI keeps a reasoning model's reasoning in
// context when a conversation continues by previous_response_id (and recommends passing reasoning
// items back in tool loops); Sluice replays the stored conversation itself, and used to leave every
// reasoning item out of the replay, so a tool loop on a reasoning model lost its reasoning at every
// turn. A record now keeps, for each reasoning item a native backend can restore by id, that id and
// the id of the item that followed it (`StoredResponse.byId`): OpenAI refuses a reasoning item named
// without the item that followed it ("... was provided without its required following item") and
// that item named without its reasoning item ("... without its required 'reasoning' item"), so the
// two travel as a pair. The replay names the pair by id, tagged with its issuer (ITEM_ISSUER), to the
// backend that issued it; the translators leave the reasoning out and send the other item as content
// everywhere else (responses_to_openai.ts), as for a reasoning item a client sends inline.
import { MAX_STORED_ITEM_IDS } from '../api/responses_validate.ts';
import { ITEM_ID, ITEM_ISSUER, type OutputItem, type ResponseObject } from '../wire/responses/format.ts';
import type { ResponseStates, StoredItem, StoredResponse } from './state.ts';

type Obj = Record<string, unknown>;

const issuerOf = (item: Obj | undefined): string | undefined =>
  (item as { [ITEM_ISSUER]?: string } | undefined)?.[ITEM_ISSUER];

const idOf = (item: Obj | undefined): string | undefined =>
  typeof item?.id === 'string' && ITEM_ID.test(item.id) ? item.id : undefined;

/**
 * The output of a finished response as the input items a next turn replays, `asInput` mapping each
 * (ids and statuses are per response). A reasoning item of the issuer's own completed answer is kept
 * by id, with the item that followed it keeping its id, both tagged with the issuer: only a provider
 * that stored the answer can restore them, and a reasoning item without a next item (an answer cut
 * short) could not be sent at all.
 */
export function outputAsInput(
  response: ResponseObject,
  issuer: string | undefined,
  asInput: (item: OutputItem) => Obj | undefined,
): Obj[] {
  const pairs = issuer !== undefined && response.status === 'completed' && response.store !== false;
  const out: Obj[] = [];
  const output = response.output;
  for (let i = 0; i < output.length; i++) {
    const item = output[i] as OutputItem;
    const next = output[i + 1];
    const rsId = idOf(item as unknown as Obj);
    const nextId = idOf(next as unknown as Obj);
    const following = next && asInput(next);
    if (pairs && item.type === 'reasoning' && rsId && nextId && following) {
      out.push(
        { type: 'reasoning', id: rsId, summary: [], [ITEM_ISSUER]: issuer },
        { ...following, id: nextId, [ITEM_ISSUER]: issuer },
      );
      i++;
      continue;
    }
    const mapped = asInput(item);
    if (mapped) out.push(mapped);
  }
  return out;
}

/**
 * The reasoning pairs of a conversation about to be stored: a reasoning item tagged with its issuer,
 * followed by an item tagged with the same issuer, both with ids (from this turn's output, the
 * client's own items whose ids Sluice found stored for the tenant, or an earlier replay). Undefined
 * when there are none.
 */
export function reasoningPairs(items: Obj[]): Record<string, string> | undefined {
  let byId: Record<string, string> | undefined;
  for (let i = 0; i + 1 < items.length; i++) {
    const rs = items[i] as Obj;
    const next = items[i + 1] as Obj;
    const issuer = issuerOf(rs);
    const rsId = idOf(rs);
    const nextId = idOf(next);
    if (rs.type !== 'reasoning' || issuer === undefined || issuerOf(next) !== issuer || !rsId || !nextId)
      continue;
    byId ??= {};
    byId[rsId] = issuer;
    byId[nextId] = issuer;
    i++;
  }
  return byId;
}

/** Ids belong to the response that made an item; a later request carries the content only. */
export function withoutId(item: Obj): Obj {
  if (item.id === undefined) return item;
  const { id: _id, status: _status, ...rest } = item;
  return rest;
}

function alive(found: Map<string, StoredItem>, id: string, issuer: string): boolean {
  return found.get(id)?.issuer === issuer;
}

/**
 * A stored conversation as the next turn's history: every item as content, but each reasoning pair
 * (`byId`) by id for its issuer, provided both items are still among the tenant's stored items (one
 * read for all; a response deleted since, at Sluice and at its provider, would be OpenAI's 404). At
 * most the last MAX_STORED_ITEM_IDS ids are looked up: older reasoning is left out. A pair whose ids
 * this turn's own items name again (a client that sends the previous output back beside
 * previous_response_id) goes as content, as before: OpenAI refuses an id named twice.
 */
export async function replayHistory(
  record: StoredResponse,
  states: ResponseStates,
  namespace: string,
  turn: Obj[],
  maxBytes: number,
): Promise<Obj[]> {
  const byId = record.byId;
  if (!byId) return record.items.map(withoutId);
  const named = new Map<string, number>();
  for (const id of Object.keys(byId).slice(-MAX_STORED_ITEM_IDS)) named.set(id, 1);
  // the read is bounded like any read of stored items (responses.maxRecordBytes, checked before any
  // item is read): past it, every pair goes as content, as when its items are gone
  const found = (await states.loadItems(namespace, named, maxBytes)) ?? new Map<string, StoredItem>();
  for (const item of turn) if (typeof item.id === 'string') found.delete(item.id);
  const out: Obj[] = [];
  const items = record.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as Obj;
    const next = items[i + 1];
    const rsId = idOf(item);
    const nextId = idOf(next);
    const issuer = rsId === undefined ? undefined : byId[rsId];
    if (
      item.type === 'reasoning' &&
      issuer !== undefined &&
      next &&
      nextId !== undefined &&
      byId[nextId] === issuer &&
      alive(found, rsId as string, issuer) &&
      alive(found, nextId, issuer)
    ) {
      out.push({ ...item, [ITEM_ISSUER]: issuer }, { ...next, [ITEM_ISSUER]: issuer });
      i++;
      continue;
    }
    out.push(withoutId(item));
  }
  return out;
}
