// The Responses API's two lifecycle hooks: before limits, a request that names `previous_response_id`
// is expanded into the whole conversation from Sluice's state store (so the prompt that is counted,
// filtered and sent is the real one); after a successful answer, and before its last byte leaves, the
// response is stored (unless `store: false`) so the client's next turn finds it on any replica.
import type { ClientAnswer, ClientRequest, ExchangeScope } from '../api/types.ts';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError } from '../errors.ts';
import type { ResponseObject } from '../wire/responses/format.ts';
import { inputItems, ResponseStates, recordFor } from './state.ts';

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

/** Ids belong to the response that made an item; a later request carries the content only. */
function withoutId(item: Obj): Obj {
  if (item.id === undefined) return item;
  const { id: _id, status: _status, ...rest } = item;
  return rest;
}

/**
 * Each `item_reference` (the Vercel AI SDK sends earlier steps' items so when `store` is on) replaced
 * by the stored item it names, or dropped when that item carries nothing into a turn (reasoning). An
 * id this tenant's stored responses never had is OpenAI's 404 naming `input`.
 */
async function resolveReferences(items: Obj[], scope: ExchangeScope): Promise<Obj[]> {
  if (!items.some((item) => item.type === 'item_reference')) return items;
  const states = statesFor(scope.runtime);
  const resolved = await Promise.all(
    items.map(async (item) => {
      if (item.type !== 'item_reference') return item;
      const id = item.id as string;
      const stored = await states.loadItem(scope.namespace, id);
      if (stored === undefined) {
        throw new GatewayError(
          'SLUICE_ERR_RESPONSE_NOT_FOUND',
          `Item with id '${id.slice(0, 128)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
          { param: 'input', publicCode: null },
        );
      }
      return stored;
    }),
  );
  return resolved.filter((item): item is Obj => item !== null);
}

export async function prepareConversation(request: ClientRequest, scope: ExchangeScope): Promise<void> {
  const body = request.body;
  const given = inputItems(body.input);
  const turn = await resolveReferences(given, scope);
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
    history = record.items.map(withoutId);
  }
  const items = history.length > 0 ? history.concat(turn.map(withoutId)) : turn;
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

export async function storeConversation(
  request: ClientRequest,
  answer: ClientAnswer,
  scope: ExchangeScope,
): Promise<void> {
  if (request.body.store === false) return;
  const turn = expanded.get(request);
  const response = finalResponse(answer);
  if (!turn || !response?.id || (response.status !== 'completed' && response.status !== 'incomplete')) return;
  const states = statesFor(scope.runtime);
  await states.save(scope.namespace, recordFor(response, turn.items, turn.inputStart));
  await states.saveItems(scope.namespace, response);
}
