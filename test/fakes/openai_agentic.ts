// A fake OpenAI upstream for agent-style conversations, serving both wire formats a Responses API
// client reaches through Sluice: chat completions (for OpenAI-compatible providers without a Responses
// API) and the Responses API itself (for `openai` providers, passed through natively). Both follow
// OpenAI's documented shapes and check what they receive: the Bearer key, roles and item types, tool
// results that answer a call made earlier in the conversation, and no `previous_response_id` (Sluice
// keeps the conversation itself, so a backend must never be asked to look one up). Like OpenAI's
// store, the Responses side resolves an input item's `id` (or an `item_reference`) only if this
// server issued it in a response it stored (`store` not false): any other id is OpenAI's 404 "Item
// with id '...' not found", so ids minted for another backend (or another OpenAI org) cannot pass.
// An answer to a request with `reasoning` (whole or streamed) starts with a reasoning item; with
// `include: ['reasoning.encrypted_content']` it carries encrypted content only this server can read
// back (any other is a 400), which is how OpenAI's stateless `store: false` loop keeps reasoning.
// DELETE /v1/responses/{id} removes a stored response and its items (openai_store.ts).
//
// The "model" is deterministic: with a `get_weather` tool and a user turn that names a city it calls
// the tool; after a tool result it answers with it; otherwise it says how many turns it saw and echoes
// the last user text, so a test can tell the whole conversation arrived.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIStore } from './openai_store.ts';

type Obj = Record<string, unknown>;

export interface AgenticRecord {
  method: string;
  path: string;
  body: Obj;
}

export interface FakeAgentic {
  url: string;
  requests: AgenticRecord[];
  /** what this organization keeps: issued item ids, sealed reasoning, stored responses */
  store: OpenAIStore;
  /** answer the next `n` requests with OpenAI's 503 (overloaded: a gateway then falls back) */
  failNext(n: number): void;
  /** answer each DELETE after `ms` (a slow provider), 0 for at once */
  holdDeletes(ms: number): void;
  /** the most requests it was answering at once since the last reset */
  maxInFlight(reset?: boolean): number;
  close(): Promise<void>;
}

interface Turn {
  role: string;
  text: string;
}

type Answer = { kind: 'text'; text: string } | { kind: 'call'; callId: string; args: string };

const CITY = /\b(Paris|Rome|Lyon|Tokyo)\b/;

function think(turns: Turn[], hasTool: boolean, toolResult: string | undefined): Answer {
  if (toolResult !== undefined) return { kind: 'text', text: `The weather is ${toolResult}.` };
  const last = turns.at(-1);
  const city = last?.role === 'user' ? CITY.exec(last.text)?.[1] : undefined;
  if (hasTool && city)
    return { kind: 'call', callId: `call_${city.toLowerCase()}`, args: JSON.stringify({ city }) };
  return { kind: 'text', text: `${turns.length} turns; you said: ${last?.text ?? ''}` };
}

function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (typeof (p as Obj).text === 'string' ? (p as Obj).text : '')).join('');
}

class Rejection extends Error {
  readonly param: string | null;
  readonly status: number;

  constructor(param: string | null, message: string, status = 400) {
    super(message);
    this.param = param;
    this.status = status;
  }
}

/** Chat: validate messages (tool results must answer an earlier call) and read the conversation. */
function readChat(body: Obj): { turns: Turn[]; toolResult?: string; hasTool: boolean } {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw new Rejection('messages', "'messages' is required");
  const calls = new Set<string>();
  const turns: Turn[] = [];
  messages.forEach((m: Obj, i) => {
    if (!['system', 'developer', 'user', 'assistant', 'tool'].includes(m.role as string))
      throw new Rejection(`messages[${i}].role`, `Invalid role '${m.role}'`);
    for (const c of (m.tool_calls as Obj[] | undefined) ?? []) calls.add(c.id as string);
    if (m.role === 'tool' && !calls.has(m.tool_call_id as string))
      throw new Rejection(
        `messages[${i}]`,
        "messages with role 'tool' must be a response to a preceding tool_calls",
      );
    turns.push({ role: m.role as string, text: partsText(m.content) });
  });
  const last = messages.at(-1) as Obj;
  return {
    turns,
    toolResult: last.role === 'tool' ? partsText(last.content) : undefined,
    hasTool: Array.isArray(body.tools) && body.tools.length > 0,
  };
}

/** Responses: validate items (function_call_output must answer a function_call) and read them. */
function readResponses(
  body: Obj,
  store: OpenAIStore,
): { turns: Turn[]; toolResult?: string; hasTool: boolean } {
  if ('previous_response_id' in body)
    throw new Rejection('previous_response_id', 'a gateway must not forward previous_response_id here');
  const input =
    typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : (body.input as Obj[]);
  if (!Array.isArray(input)) throw new Rejection('input', "Missing required parameter: 'input'.");
  const calls = new Set<string>();
  const turns: Turn[] = [];
  let toolResult: string | undefined;
  input.forEach((item, i) => {
    const type = item.type ?? 'message';
    const callId = item.call_id;
    if (typeof callId === 'string' && callId.length > 64)
      throw new Rejection(
        `input[${i}].call_id`,
        `Invalid 'input[${i}].call_id': string too long. Expected a string with maximum length 64, but got a string with length ${callId.length} instead.`,
      );
    const refusal = store.check(item, i);
    if (refusal) throw new Rejection(refusal.param, refusal.message, refusal.status);
    if (type === 'reasoning' || type === 'item_reference') {
      // both only name an item of this server's store (checked above); a reasoning item has no turn
      if (!('id' in item))
        throw new Rejection(`input[${i}].id`, `Missing required parameter: 'input[${i}].id'.`);
    } else if (type === 'message') {
      turns.push({ role: item.role as string, text: partsText(item.content) });
      toolResult = undefined;
    } else if (type === 'function_call') {
      calls.add(item.call_id as string);
    } else if (type === 'function_call_output') {
      if (!calls.has(item.call_id as string))
        throw new Rejection(
          `input[${i}].call_id`,
          `No tool call found for function call output with call_id ${item.call_id}.`,
        );
      toolResult = typeof item.output === 'string' ? item.output : partsText(item.output);
    } else throw new Rejection(`input[${i}].type`, `Invalid type '${type}'`);
  });
  const order = store.checkOrder(input);
  if (order) throw new Rejection(order.param, order.message, order.status);
  if (typeof body.instructions === 'string') turns.unshift({ role: 'system', text: body.instructions });
  return { turns, toolResult, hasTool: Array.isArray(body.tools) && body.tools.length > 0 };
}

const USAGE = { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 };

function chatAnswer(res: ServerResponse, body: Obj, a: Answer): void {
  const message =
    a.kind === 'text'
      ? { role: 'assistant', content: a.text, refusal: null }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: a.callId, type: 'function', function: { name: 'get_weather', arguments: a.args } },
          ],
        };
  const finish = a.kind === 'text' ? 'stop' : 'tool_calls';
  const base = { id: 'chatcmpl-fake', created: 1_700_000_000, model: body.model };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage: USAGE,
      }),
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (delta: Obj, finishReason: string | null, usage?: Obj) =>
    `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: usage ? [] : [{ index: 0, delta, finish_reason: finishReason }], ...(usage ? { usage } : {}) })}\n\n`;
  let out = chunk({ role: 'assistant', content: '' }, null);
  if (a.kind === 'text') for (const w of a.text.split(/(?= )/)) out += chunk({ content: w }, null);
  else {
    out += chunk(
      {
        tool_calls: [
          { index: 0, id: a.callId, type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
      },
      null,
    );
    out += chunk({ tool_calls: [{ index: 0, function: { arguments: a.args } }] }, null);
  }
  out += chunk({}, finish);
  if ((body.stream_options as Obj | undefined)?.include_usage) out += chunk({}, null, USAGE);
  res.end(`${out}data: [DONE]\n\n`);
}

let seq = 0;

function responsesAnswer(res: ServerResponse, body: Obj, a: Answer, store: OpenAIStore): void {
  const id = `resp_fake${String(++seq).padStart(6, '0')}`;
  const item =
    a.kind === 'text'
      ? {
          type: 'message',
          id: `msg_fake${seq}`,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: a.text, annotations: [], logprobs: [] }],
        }
      : {
          type: 'function_call',
          id: `fc_fake${seq}`,
          call_id: a.callId,
          name: 'get_weather',
          arguments: a.args,
          status: 'completed',
        };
  const reasoning = body.reasoning !== undefined ? store.reasoningItem(body, `rs_fake${seq}`) : undefined;
  const output: Obj[] = reasoning ? [reasoning, item] : [item];
  store.keep(body, id, output);
  const usage = {
    input_tokens: 11,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 16,
  };
  const response = {
    id,
    object: 'response',
    created_at: 1_700_000_000,
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    model: body.model,
    output,
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: 1,
    usage,
  };
  if (body.stream !== true) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(response));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  let n = 0;
  const ev = (type: string, fields: Obj) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: n++ })}\n\n`;
  const started = { ...response, status: 'in_progress', output: [], usage: null };
  let out = ev('response.created', { response: started }) + ev('response.in_progress', { response: started });
  if (reasoning) {
    out += ev('response.output_item.added', { output_index: 0, item: { ...reasoning, summary: [] } });
    out += ev('response.output_item.done', { output_index: 0, item: reasoning });
  }
  // the answer's item comes after its reasoning item, if any
  const at = reasoning ? 1 : 0;
  if (item.type === 'message') {
    out += ev('response.output_item.added', {
      output_index: at,
      item: { ...item, status: 'in_progress', content: [] },
    });
    out += ev('response.content_part.added', {
      item_id: item.id,
      output_index: at,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    });
    const text = (a as { text: string }).text;
    for (const w of text.split(/(?= )/))
      out += ev('response.output_text.delta', {
        item_id: item.id,
        output_index: at,
        content_index: 0,
        delta: w,
        logprobs: [],
      });
    out += ev('response.output_text.done', {
      item_id: item.id,
      output_index: at,
      content_index: 0,
      text,
      logprobs: [],
    });
    out += ev('response.content_part.done', {
      item_id: item.id,
      output_index: at,
      content_index: 0,
      part: item.content?.[0],
    });
  } else {
    out += ev('response.output_item.added', {
      output_index: at,
      item: { ...item, status: 'in_progress', arguments: '' },
    });
    out += ev('response.function_call_arguments.delta', {
      item_id: item.id,
      output_index: at,
      delta: item.arguments,
    });
    out += ev('response.function_call_arguments.done', {
      item_id: item.id,
      output_index: at,
      arguments: item.arguments,
    });
  }
  out += ev('response.output_item.done', { output_index: at, item });
  res.end(out + ev('response.completed', { response }));
}

export async function startFakeAgentic(apiKey: string): Promise<FakeAgentic> {
  const requests: AgenticRecord[] = [];
  const store = new OpenAIStore();
  let failing = 0;
  let deleteDelayMs = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    res.on('close', () => {
      inFlight--;
    });
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const fail = (status: number, param: string | null, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param, code: null } }));
    };
    if (req.headers.authorization !== `Bearer ${apiKey}`)
      return fail(401, null, 'Incorrect API key provided.');
    const path = (req.url ?? '').split('?')[0] ?? '';
    let body: Obj = {};
    if (req.method !== 'DELETE') {
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Obj;
      } catch {
        return fail(400, null, 'We could not parse the JSON body of your request.');
      }
    }
    requests.push({ method: req.method ?? '', path, body });
    if (failing > 0) {
      failing--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            message: 'The server is overloaded or not ready yet.',
            type: 'server_error',
            param: null,
            code: null,
          },
        }),
      );
      return;
    }
    if (req.method === 'DELETE' && path.startsWith('/v1/responses/')) {
      if (deleteDelayMs > 0) await new Promise((r) => setTimeout(r, deleteDelayMs));
      const done = store.delete(decodeURIComponent(path.slice('/v1/responses/'.length)));
      res.writeHead(done.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(done.body));
      return;
    }
    try {
      if (path === '/v1/chat/completions') {
        const c = readChat(body);
        return chatAnswer(res, body, think(c.turns, c.hasTool, c.toolResult));
      }
      if (path === '/v1/responses') {
        const r = readResponses(body, store);
        return responsesAnswer(res, body, think(r.turns, r.hasTool, r.toolResult), store);
      }
      return fail(404, null, `Invalid URL (POST ${path})`);
    } catch (err) {
      if (err instanceof Rejection) return fail(err.status, err.param, err.message);
      // a body the checks above did not foresee: answer (as a server error) rather than leave the
      // caller waiting on a request that was never answered
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { message: String(err), type: 'server_error', param: null, code: null } }),
      );
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    store,
    failNext(n) {
      failing = n;
    },
    holdDeletes(ms) {
      deleteDelayMs = ms;
    },
    maxInFlight(reset = false) {
      const most = mostInFlight;
      if (reset) mostInFlight = inFlight;
      return most;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
