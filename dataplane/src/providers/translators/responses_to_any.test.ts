// Responses API -> chat-backed providers: the request conversion, whole answers, and the typed event
// stream (including the ending the core writes when it cuts an answer at a token cap).
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import { responsesToChat } from '../../wire/responses/to_openai.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type { StreamEvent, Translator } from '../types.ts';

type Obj = Record<string, unknown>;

const vllm = resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1', name: 'local' });
const anthropic = resolvedProvider('anthropic', { name: 'claude' });
const ctx = (provider = vllm, stream = false) =>
  translateContext(provider, { model: 'm-up', stream, clientApi: 'openai-responses' });
const translator = (backend: 'openai' | 'anthropic' = 'openai') =>
  findTranslator('openai-responses', backend) as Translator;

function events(data: string): Obj[] {
  return new SseParser().push(data).map((f) => {
    const ev = JSON.parse(f.data) as Obj;
    expect(f.event).toBe(ev.type);
    return ev;
  });
}

function chunk(delta: Obj, finish: string | null = null, usage?: Obj): string {
  const body: Obj = {
    id: 'c1',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  if (usage) body.usage = usage;
  return `data: ${JSON.stringify(body)}\n\n`;
}

describe('Responses request -> chat completions', () => {
  it('maps instructions, items, tool calls and their outputs, tools and formats', () => {
    const chat = responsesToChat(
      {
        model: 'm',
        instructions: 'Be brief.',
        input: [
          { role: 'developer', content: 'Metric units.' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Weather?' }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
          { type: 'function_call', call_id: 'c1', name: 'wx', arguments: '{"city":"Paris"}' },
          { type: 'function_call', call_id: 'c2', name: 'wx', arguments: '{"city":"Rome"}' },
          { type: 'function_call_output', call_id: 'c1', output: '21C' },
          { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: '25C' }] },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'And this?' },
              { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' },
            ],
          },
        ],
        tools: [
          {
            type: 'function',
            name: 'wx',
            description: 'weather',
            parameters: { type: 'object' },
            strict: true,
          },
        ],
        tool_choice: { type: 'function', name: 'wx' },
        text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
        max_output_tokens: 64,
        reasoning: { effort: 'low' },
        temperature: 0.5,
      },
      true,
    );
    expect(chat.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Metric units.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'wx', arguments: '{"city":"Paris"}' } },
          { id: 'c2', type: 'function', function: { name: 'wx', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: '21C' },
      { role: 'tool', tool_call_id: 'c2', content: '25C' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'And this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        ],
      },
    ]);
    expect(chat.tools).toEqual([
      {
        type: 'function',
        function: { name: 'wx', description: 'weather', parameters: { type: 'object' }, strict: true },
      },
    ]);
    expect(chat.tool_choice).toEqual({ type: 'function', function: { name: 'wx' } });
    expect(chat.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
    });
    expect(chat).toMatchObject({
      max_tokens: 64,
      reasoning_effort: 'low',
      temperature: 0.5,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('a string input is one user message; no instructions, no system message', () => {
    expect(responsesToChat({ model: 'm', input: 'Hi' }, false).messages).toEqual([
      { role: 'user', content: 'Hi' },
    ]);
  });

  // found by test/reliability/translator_fuzz.test.ts: an output without its call (or a call left
  // without its output) went to Anthropic and Bedrock, which refused it in their own words
  it('refuses outputs and calls that do not pair up, as OpenAI does (after previous_response_id expansion)', () => {
    const call = { type: 'function_call', call_id: 'c1', name: 'wx', arguments: '{}' };
    const output = (id: string) => ({ type: 'function_call_output', call_id: id, output: 'sunny' });
    const user = { role: 'user', content: 'and?' };
    const cases: Array<[unknown[], string, string]> = [
      [
        [user, output('c1')],
        'input[1].call_id',
        'No tool call found for function call output with call_id c1.',
      ],
      [
        [user, call, output('c2')],
        'input[2].call_id',
        'No tool call found for function call output with call_id c2.',
      ],
      [[user, call, user], 'input[2]', 'No tool output found for function call c1.'],
      [[user, call], 'input[1]', 'No tool output found for function call c1.'],
    ];
    for (const [input, param, message] of cases) {
      let caught: GatewayError | undefined;
      try {
        responsesToChat({ model: 'm', input }, false);
      } catch (err) {
        caught = err as GatewayError;
      }
      expect(caught, JSON.stringify(input)).toBeInstanceOf(GatewayError);
      expect(caught?.status).toBe(400);
      expect(caught?.param).toBe(param);
      expect(caught?.message).toBe(message);
    }
    const two = { ...call, call_id: 'c2' };
    expect(
      responsesToChat({ model: 'm', input: [user, call, two, output('c2'), output('c1'), user] }, false)
        .messages,
    ).toHaveLength(5);
  });
});

describe('Responses -> OpenAI-compatible backend without a Responses API (through chat)', () => {
  it('sends a chat request to the chat path and never mutates the client body', async () => {
    const body = { model: 'm', input: 'Hi', max_output_tokens: 32 };
    const frozen = structuredClone(body);
    const c = ctx();
    const req = await translator().buildRequest(body, c);
    expect(req.path).toBe('/v1/chat/completions');
    expect(JSON.parse(String(req.body))).toMatchObject({
      model: 'm-up',
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 32,
    });
    expect(body).toEqual(frozen);
  });

  it('turns a completion with text and tool calls into a response object', async () => {
    const t = translator();
    const c = ctx();
    await t.buildRequest({ model: 'm', input: 'Hi', tools: [{ type: 'function', name: 'wx' }] }, c);
    const out = t.parseResponse(
      Buffer.from(
        JSON.stringify({
          id: 'x',
          object: 'chat.completion',
          model: 'm-up',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: 'Let me look.',
                tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'wx', arguments: '{}' } }],
              },
              finish_reason: 'tool_calls',
            },
          ],
          usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
        }),
      ),
      c,
    );
    const r = JSON.parse(String(out.body)) as Obj;
    expect(r).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'm-up',
      incomplete_details: null,
      usage: { input_tokens: 7, output_tokens: 5, total_tokens: 12 },
      tools: [{ type: 'function', name: 'wx' }],
    });
    expect(r.id).toMatch(/^resp_[0-9a-f]{48}$/);
    const output = r.output as Obj[];
    expect(output.map((o) => o.type)).toEqual(['message', 'function_call']);
    expect(output[0]).toMatchObject({
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Let me look.' }],
    });
    expect(output[1]).toMatchObject({ call_id: 'call_1', name: 'wx', arguments: '{}', status: 'completed' });
    expect(out.usage).toEqual({ inputTokens: 7, outputTokens: 5 });
  });

  it('a length finish is an incomplete response (max_output_tokens)', async () => {
    const t = translator();
    const c = ctx();
    await t.buildRequest({ model: 'm', input: 'Hi' }, c);
    const out = t.parseResponse(
      Buffer.from(
        JSON.stringify({
          choices: [
            { index: 0, message: { role: 'assistant', content: 'Once upon' }, finish_reason: 'length' },
          ],
        }),
      ),
      c,
    );
    const r = JSON.parse(String(out.body)) as Obj;
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    // no usage from the backend: estimated, and the estimate is what the client sees
    expect(out.usage?.estimated).toBe(true);
    expect((r.usage as Obj).output_tokens).toBe(out.usage?.outputTokens);
  });

  it('streams typed events in OpenAI order, ending with response.completed and the usage', async () => {
    const t = translator();
    const c = ctx(vllm, true);
    await t.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
    const st = t.createStream(c);
    const evs = [
      ...st.push(Buffer.from(chunk({ role: 'assistant', content: 'Hel' }))),
      ...st.push(Buffer.from(chunk({ content: 'lo' }))),
      ...st.push(
        Buffer.from(
          chunk({
            tool_calls: [
              { index: 0, id: 'call_9', type: 'function', function: { name: 'wx', arguments: '{"a"' } },
            ],
          }),
        ),
      ),
      ...st.push(Buffer.from(chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }))),
      ...st.push(Buffer.from(chunk({}, 'tool_calls'))),
      ...st.push(
        Buffer.from(
          `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } })}\n\n`,
        ),
      ),
      ...st.push(Buffer.from('data: [DONE]\n\n')),
      ...st.end(),
    ];
    const all = events(evs.map((e) => e.data).join(''));
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    const done = all.at(-1)?.response as Obj;
    expect(done.status).toBe('completed');
    expect(done.usage).toMatchObject({ input_tokens: 3, output_tokens: 4 });
    expect((done.output as Obj[])[1]).toMatchObject({
      type: 'function_call',
      call_id: 'call_9',
      arguments: '{"a":1}',
    });
    // text for the core's output accounting, and the end marked
    expect(evs.map((e) => e.text ?? '').join('')).toBe('Hello{"a":1}');
    expect(evs.some((e) => e.done)).toBe(true);
    expect((st as unknown as { final: Obj }).final.id).toBe(done.id);
  });

  it('a cap continues from what the client saw and ends with response.incomplete', async () => {
    const t = translator();
    const c = ctx(vllm, true);
    await t.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
    const st = t.createStream(c);
    const first = st.push(Buffer.from(chunk({ role: 'assistant', content: 'One two ' })));
    const cutRead = st.push(Buffer.from(chunk({ content: 'three four' })));
    const cut = cutRead.find((e) => e.text) as StreamEvent;
    // the core sends the first read, trims the cut event's text to 'three' and ends the answer
    const ending = st.textChunk('three', cut) + st.finish('length', { inputTokens: 2, outputTokens: 3 }, cut);
    const all = events(first.map((e) => e.data).join('') + ending);
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    const r = all.at(-1)?.response as Obj;
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect((r.output as Obj[])[0]).toMatchObject({
      status: 'incomplete',
      content: [{ text: 'One two three' }],
    });
    expect(r.usage).toMatchObject({ input_tokens: 2, output_tokens: 3 });
  });

  it('an upstream that ends without its end marker is an error, written as error + response.failed', async () => {
    const t = translator();
    const c = ctx(vllm, true);
    await t.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
    const st = t.createStream(c);
    st.push(Buffer.from(chunk({ content: 'Hi' })));
    expect(() => st.end()).toThrow(GatewayError);
    const all = events(st.errorEvent(new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', 'boom')));
    expect(all.map((e) => e.type)).toEqual(['error', 'response.failed']);
    expect(all[1]?.response).toMatchObject({ status: 'failed' });
  });
});

describe('Responses -> Anthropic (chat translator composed)', () => {
  it('reaches the Messages API with system, tools and tool results', async () => {
    const c = ctx(anthropic);
    const req = await translator('anthropic').buildRequest(
      {
        model: 'm',
        instructions: 'Be brief.',
        input: [
          { role: 'user', content: 'Weather?' },
          { type: 'function_call', call_id: 'toolu_1', name: 'wx', arguments: '{"city":"Paris"}' },
          { type: 'function_call_output', call_id: 'toolu_1', output: '21C' },
        ],
        tools: [{ type: 'function', name: 'wx', parameters: { type: 'object', properties: {} } }],
        max_output_tokens: 100,
      },
      c,
    );
    expect(req.path).toBe('/v1/messages');
    const body = JSON.parse(String(req.body)) as Obj;
    expect(body).toMatchObject({
      model: 'm-up',
      system: [{ type: 'text', text: 'Be brief.' }],
      max_tokens: 100,
    });
    const messages = body.messages as Obj[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[1]?.content).toEqual([
      { type: 'tool_use', id: 'toolu_1', name: 'wx', input: { city: 'Paris' } },
    ]);
    expect(messages[2]?.content).toMatchObject([{ type: 'tool_result', tool_use_id: 'toolu_1' }]);
  });
});

describe('Responses -> Azure OpenAI', () => {
  const azure = (apiVersion?: string) =>
    resolvedProvider('azure-openai', {
      baseUrl: 'https://res.openai.azure.com',
      name: 'az',
      ...(apiVersion ? { apiVersion } : {}),
    });

  it('passes through natively from api-version 2025-03-01-preview, model = deployment', async () => {
    const c = ctx(azure('2025-04-01-preview'));
    const req = await translator().buildRequest(
      { model: 'm', input: 'Hi', previous_response_id: 'resp_x' },
      c,
    );
    expect(req.path).toBe('/openai/responses?api-version=2025-04-01-preview');
    expect(req.headers['api-key']).toBe('test-key');
    const body = JSON.parse(String(req.body)) as Obj;
    expect(body).toMatchObject({ model: 'm-up', input: 'Hi' });
    expect(body).not.toHaveProperty('previous_response_id');
  });

  it('goes through the deployment chat path with an older api-version', async () => {
    const req = await translator().buildRequest({ model: 'm', input: 'Hi' }, ctx(azure()));
    expect(req.path).toBe('/openai/deployments/m-up/chat/completions?api-version=2024-10-21');
    expect(JSON.parse(String(req.body))).toMatchObject({ messages: [{ role: 'user', content: 'Hi' }] });
  });
});
