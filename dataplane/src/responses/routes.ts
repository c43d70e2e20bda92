// The Responses API's read and delete endpoints over Sluice's state store, for the caller's tenant
// only (another tenant's id is "not found", never "forbidden": ids are not secrets, but existence is).
// Each counts against the caller's request rates (policy/request_rate.ts):
//   GET    /v1/responses/{id}               the stored response object
//   DELETE /v1/responses/{id}               {id, object: 'response', deleted: true}; also at the
//                                           provider that keeps its own copy (issuer_delete.ts)
//   GET    /v1/responses/{id}/input_items   the items this response was given (a paged list)
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from '../proxy/policy_interface.ts';
import { statesFor } from './conversation.ts';
import { type InputItemsQuery, inputItemsQuery } from './input_items_query.ts';
import { deleteAtIssuer } from './issuer_delete.ts';
import type { ResponseStates, StoredResponse } from './state.ts';

type Obj = Record<string, unknown>;

export interface ResponseRouteDeps {
  runtime(): Runtime;
  /** the caller as the intake identified it, or by its headers */
  identify(req: FastifyRequest, runtime: Runtime): Promise<Identity>;
  /** an error answered, once the caller is known with its namespace */
  fail(reply: FastifyReply, err: GatewayError, namespace?: string): FastifyReply;
  /** the answer went out: its access line and count (under the route's `api`) */
  answered(reply: FastifyReply, namespace: string): void;
}

function notFound(id: string): GatewayError {
  return new GatewayError(
    'SLUICE_ERR_RESPONSE_NOT_FOUND',
    `Response with id '${id.slice(0, 128)}' not found.`,
    {
      publicCode: null,
    },
  );
}

/** A stable id for an input item that came without one (OpenAI lists every item with an id). */
function itemId(responseId: string, index: number, item: Obj): string {
  const prefix = item.type === 'function_call' ? 'fc' : item.type === 'function_call_output' ? 'fco' : 'msg';
  const digest = createHash('sha256').update(`${responseId}\n${index}`).digest('hex').slice(0, 48);
  return `${prefix}_${digest}`;
}

/** Message content as OpenAI lists it: always an array of typed parts. */
function listedItem(record: StoredResponse, index: number): Obj {
  const item = record.items[index] as Obj;
  const listed: Obj = { id: item.id ?? itemId(record.response.id, index, item), ...item };
  if (item.type === 'message') {
    listed.status = 'completed';
    if (typeof item.content === 'string') {
      const type = item.role === 'assistant' ? 'output_text' : 'input_text';
      listed.content = [{ type, text: item.content }];
    }
  }
  return listed;
}

function page(record: StoredResponse, query: InputItemsQuery): Obj {
  const { limit, order, after } = query;
  const all = [];
  for (let i = record.inputStart; i < record.inputEnd; i++) all.push(listedItem(record, i));
  if (order === 'desc') all.reverse();
  let start = 0;
  if (after !== undefined) {
    const at = all.findIndex((it) => it.id === after);
    start = at < 0 ? all.length : at + 1;
  }
  const data = all.slice(start, start + limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: start + limit < all.length,
  };
}

export function registerResponseRoutes(app: FastifyInstance, deps: ResponseRouteDeps): void {
  /**
   * The caller identified and charged a request, then `fn` answers for its tenant: the answer, or
   * its error, is observed with the namespace once the caller is known.
   */
  const handle =
    (
      fn: (
        reply: FastifyReply,
        states: ResponseStates,
        namespace: string,
        id: string,
        runtime: Runtime,
      ) => Promise<unknown>,
    ) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      let namespace: string | undefined;
      try {
        const runtime = deps.runtime();
        const identity = await deps.identify(req, runtime);
        namespace = identity.namespace;
        await runtime.gate.admitRequestRate?.(identity);
        const id = (req.params as { id: string }).id;
        reply.send(await fn(reply, statesFor(runtime), namespace, id, runtime));
        deps.answered(reply, namespace);
        return reply;
      } catch (err) {
        if (err instanceof GatewayError) return deps.fail(reply, err, namespace);
        throw err;
      }
    };
  const load = async (states: ResponseStates, namespace: string, id: string) => {
    const record = await states.load(namespace, id);
    if (!record) throw notFound(id);
    return record;
  };

  app.get(
    '/v1/responses/:id',
    { config: { api: 'openai-responses-retrieve' } },
    handle(async (_reply, states, namespace, id) => (await load(states, namespace, id)).response),
  );
  app.get(
    '/v1/responses/:id/input_items',
    { config: { api: 'openai-responses-input-items' } },
    handle(async (reply, states, namespace, id) => {
      // the query first: a bad one is the client's 400 whether or not the response exists
      const query = inputItemsQuery((reply.request.query ?? {}) as Obj);
      return page(await load(states, namespace, id), query);
    }),
  );
  app.delete(
    '/v1/responses/:id',
    { config: { api: 'openai-responses-delete' } },
    handle(async (_reply, states, namespace, id, runtime) => {
      // the provider's own copy first (issuer_delete.ts): a failure there keeps Sluice's record
      const deleted = await states.delete(namespace, id, (record) =>
        record.issuer === undefined ? undefined : deleteAtIssuer(runtime, record.issuer, id, namespace),
      );
      if (!deleted) throw notFound(id);
      return { id, object: 'response', deleted: true };
    }),
  );
}
