// The Responses API's two lifecycle hooks: before limits, a request that names `previous_response_id`
// is expanded into the whole conversation from Sluice's state store (so the prompt that is counted,
// filtered and sent is the real one); after a successful answer, and before its last byte leaves, the
// response is stored (unless `store: false`) so the client's next turn finds it on any replica.
import type { ClientAnswer, ClientRequest, ExchangeScope } from '../api/types.ts';
import { invalid } from '../api/validate.ts';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError } from '../errors.ts';
import { ITEM_ISSUER, type ResponseObject } from '../wire/responses/format.ts';
import { replayHistory } from './reasoning_replay.ts';
import { inputItems, ResponseStates, recordFor, type StoredItem } from './state.ts';

type Obj = Record<string, unknown>;

const states = new WeakMap<Runtime, ResponseStates>();

/** The state store for a loaded config (its gate's shared store, or this replica's memory). */
export function statesFor(runtime: Runtime): ResponseStates {
  let s = states.get(runtime);
  if (!s) {
    s = new ResponseStates(runtime.gate.records, runtime.config.responses);
    states.set(runtime, s);
  }
  return s;
}

/** What prepare learned, for completed: the expanded input and where this turn's part starts. */
const expanded = new WeakMap<ClientRequest, { items: Obj[]; inputStart: number }>();

function unknownItem(id: string): GatewayError {
  // OpenAI's own answer to an id its store does not hold (404, param input, no code)
  return new GatewayError(
    'SLUICE_ERR_RESPONSE_NOT_FOUND',
    `Item with id '${id.slice(0, 128)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
    { param: 'input', publicCode: null },
  );
}

/**
 * What an `item_reference` stands for in the request: the stored item's content. When a native
 * backend issued the id (and keeps the item itself), the id and its issuer go with it, so that backend
 * is sent the id it knows (every other one the content); a reasoning item, of which Sluice keeps
 * nothing, is then named by its id alone for its issuer to restore (OpenAI recommends passing
 * reasoning back in tool loops) and left out elsewhere. A reasoning item no native backend issued
 * carries nothing: undefined.
 */
function referenced(id: string, stored: StoredItem): Obj | undefined {
  const issuer = stored.issuer;
  if (issuer === undefined) return stored.item ?? undefined;
  if (stored.item === null) return { type: 'reasoning', id, summary: [], [ITEM_ISSUER]: issuer };
  return { ...stored.item, id, [ITEM_ISSUER]: issuer };
}

/**
 * Input items that name a stored item, read in one pass (the count is bounded by the validator,
 * MAX_STORED_ITEM_IDS): each `item_reference` (the Vercel AI SDK sends earlier steps' items so when
 * `store` is on) is replaced by the stored item it names (`referenced`); an inline item that carries
 * an `id` keeps its content but must be one this tenant's stored responses produced, as OpenAI checks
 * it, and is tagged with the provider that issued the id (ITEM_ISSUER), for a native backend to be
 * sent ids its own store knows and no others. An
 * unknown id is OpenAI's 404 naming `input` (the reasoning ids of a native `store: false` answer are
 * known: storeConversation). What the named items take as stored, each counted as often as it is
 * named, is bounded like a stored conversation (responses.maxRecordBytes), and checked before any of
 * them is read: a few bytes of references must not become gigabytes of prompt, nor inline stubs
 * carrying ids megabytes of reads.
 */
async function resolveStoredItems(items: Obj[], scope: ExchangeScope): Promise<Obj[]> {
  const named = new Map<string, number>();
  for (const item of items)
    if (typeof item.id === 'string') named.set(item.id, (named.get(item.id) ?? 0) + 1);
  if (named.size === 0) return items;
  const limit = scope.runtime.config.responses.maxRecordBytes;
  const found = await statesFor(scope.runtime).loadItems(scope.namespace, named, limit);
  if (!found) {
    invalid(
      'input',
      `The stored items named in 'input' (item_reference items and items carrying an id) take more than ${limit} bytes (responses.maxRecordBytes); send fewer of them, or the items themselves without their ids.`,
    );
  }
  let changed = false;
  const out: Obj[] = [];
  for (const item of items) {
    const id = item.id;
    if (typeof id !== 'string') {
      out.push(item);
      continue;
    }
    const stored = found.get(id);
    if (!stored) throw unknownItem(id);
    if (item.type !== 'item_reference') {
      out.push(stored.issuer === undefined ? item : { ...item, [ITEM_ISSUER]: stored.issuer });
      changed ||= stored.issuer !== undefined;
      continue;
    }
    changed = true;
    const resolved = referenced(id, stored);
    if (resolved) out.push(resolved);
  }
  return changed ? out : items;
}

export async function prepareConversation(request: ClientRequest, scope: ExchangeScope): Promise<void> {
  const body = request.body;
  const given = inputItems(body.input);
  const turn = await resolveStoredItems(given, scope);
  const prev = body.previous_response_id;
  let history: Obj[] = [];
  if (typeof prev === 'string') {
    const record = await statesFor(scope.runtime).load(scope.namespace, prev);
    if (!record) {
      throw new GatewayError(
        'SLUICE_ERR_RESPONSE_NOT_FOUND',
        `Previous response with id '${prev.slice(0, 128)}' not found.`,
        {
          status: 400,
          param: 'previous_response_id',
          publicCode: 'previous_response_not_found',
        },
      );
    }
    // content, but reasoning by id for its issuer (with the item that followed it)
    history = await replayHistory(
      record,
      statesFor(scope.runtime),
      scope.namespace,
      turn,
      scope.runtime.config.responses.maxRecordBytes,
    );
  }
  // this turn's ids stay: the translator of a native backend keeps those it issued (ITEM_ISSUER)
  const items = history.length > 0 ? history.concat(turn) : turn;
  if (history.length > 0 || turn !== given) request.body = { ...body, input: items };
  expanded.set(request, { items, inputStart: history.length });
}

function finalResponse(answer: ClientAnswer): ResponseObject | undefined {
  if ('stream' in answer) return (answer.stream as { final?: ResponseObject }).final;
  try {
    return JSON.parse(answer.body.toString()) as ResponseObject;
  } catch {
    return undefined;
  }
}

/** The provider whose own store issued the answer's item ids (a native backend's), if any. */
function issuerOf(answer: ClientAnswer): string | undefined {
  return 'stream' in answer ? (answer.stream as { issuer?: string }).issuer : answer.issuer;
}

export async function storeConversation(
  request: ClientRequest,
  answer: ClientAnswer,
  scope: ExchangeScope,
): Promise<void> {
  const issuer = issuerOf(answer);
  // store: false keeps nothing of a translated answer, and no content of a native one (below)
  if (request.body.store === false && issuer === undefined) return;
  const turn = expanded.get(request);
  const response = finalResponse(answer);
  if (!turn || !response?.id || (response.status !== 'completed' && response.status !== 'incomplete')) return;
  const states = statesFor(scope.runtime);
  if (request.body.store === false) {
    // Only which provider issued its reasoning ids (no content): OpenAI's stateless loop sends those
    // items back with their encrypted_content, and they may go to that provider alone, for this
    // tenant alone (an unchecked id could name another tenant's item to OpenAI).
    const reasoning = response.output.filter((item) => item.type === 'reasoning');
    if (reasoning.length > 0)
      await states.saveItems(scope.namespace, { ...response, output: reasoning }, issuer);
    return;
  }
  await states.save(scope.namespace, recordFor(response, turn.items, turn.inputStart, issuer));
  await states.saveItems(scope.namespace, response, issuer);
}
