// Tool use end to end for Anthropic clients on an OpenAI-compatible backend: @anthropic-ai/sdk ->
// POST /v1/messages -> a scripted OpenAI chat server that calls a tool (arguments streamed in pieces,
// as OpenAI does) and answers once it gets the result. The server checks OpenAI's rule that tool
// messages answer the tool_call ids of the assistant message right before them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { CLIENT_KEY, UPSTREAM_KEY } from '../helpers/secrets.ts';

type Msg = { role: string; content?: unknown; tool_calls?: Array<{ id: string }>; tool_call_id?: string };

let server: Server;
let dp: InProcessDataplane;
let client: Anthropic;
const seen: Array<Record<string, unknown>> = [];

function openaiError(res: import('node:http').ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } }));
}

/** OpenAI's ordering rule for tool messages. */
function toolOrderError(messages: Msg[]): string | undefined {
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'tool') continue;
    let j = i - 1;
    while (j >= 0 && messages[j]?.role === 'tool') j--;
    const ids = new Set((messages[j]?.tool_calls ?? []).map((c) => c.id));
    if (!ids.has(m.tool_call_id ?? '')) {
      return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
    }
  }
  return undefined;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`)
        return openaiError(res, 401, 'Incorrect API key provided');
      const body = JSON.parse(Buffer.concat(parts).toString()) as Record<string, unknown>;
      seen.push(body);
      const messages = body.messages as Msg[];
      const orderError = toolOrderError(messages);
      if (orderError) return openaiError(res, 400, orderError);
      const answered = messages.at(-1)?.role === 'tool';
      const usage = { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 };
      const base = { id: 'chatcmpl-t', created: 1, model: String(body.model) };
      if (body.stream !== true) {
        const message = answered
          ? { role: 'assistant', content: 'It is 18C in Paris.' }
          : {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: 'call_1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
                },
              ],
            };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            ...base,
            object: 'chat.completion',
            choices: [{ index: 0, message, finish_reason: answered ? 'stop' : 'tool_calls' }],
            usage,
          }),
        );
        return;
      }
      const chunk = (delta: unknown, finish: string | null = null) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: null }));
      if (answered)
        res.write(chunk({ content: 'It is 18C ' }) + chunk({ content: 'in Paris.' }) + chunk({}, 'stop'));
      else {
        res.write(
          chunk({
            tool_calls: [
              { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } },
            ],
          }),
        );
        for (const piece of ['{"ci', 'ty":', ' "Par', 'is"}'])
          res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
        res.write(chunk({}, 'tool_calls'));
      }
      res.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`,
      );
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  dp = await startDataplane({
    providers: [openaiProvider('tools-up', `http://127.0.0.1:${port}/v1`)],
    routes: [{ name: 'all', backends: [{ provider: 'tools-up', model: 'gpt-4.1-mini' }] }],
  });
  client = new Anthropic({ baseURL: dp.url, apiKey: CLIENT_KEY, maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await new Promise<void>((r) => server?.close(() => r()));
});

const tools: Anthropic.Tool[] = [
  {
    name: 'get_weather',
    description: 'Weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
];

for (const mode of ['whole', 'streamed'] as const) {
  describe(`Anthropic SDK tool round trip on an OpenAI backend (${mode})`, () => {
    it('gets a tool_use block, sends the tool_result and gets the answer, with usage each time', async () => {
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const ask = (msgs: Anthropic.MessageParam[]) =>
        mode === 'whole'
          ? client.messages.create({ model: 'any', max_tokens: 200, messages: msgs, tools })
          : client.messages.stream({ model: 'any', max_tokens: 200, messages: msgs, tools }).finalMessage();
      const first = await ask(messages);
      expect(first.stop_reason).toBe('tool_use');
      expect(first.content).toEqual([
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      ]);
      expect(first.usage).toMatchObject({ input_tokens: 21, output_tokens: 9 });
      expect(seen.at(-1)?.tools).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ]);

      messages.push({ role: 'assistant', content: first.content });
      messages.push({
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18C' }],
      });
      const second = await ask(messages);
      expect(second.stop_reason).toBe('end_turn');
      expect(second.content).toEqual([{ type: 'text', text: 'It is 18C in Paris.' }]);
      expect((seen.at(-1)?.messages as Msg[] | undefined)?.slice(-2)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
      ]);
    });
  });
}
