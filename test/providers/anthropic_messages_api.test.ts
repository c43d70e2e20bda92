// The inbound Anthropic Messages API spec: what it accepts, what it rejects (with Anthropic-style
// field paths and messages), and the error envelope with Anthropic's type for every gateway status.
import { describe, expect, it } from 'vitest';
import { anthropicMessages } from '../../dataplane/src/api/anthropic.ts';
import { ERRORS, type ErrorCode, GatewayError } from '../../dataplane/src/errors.ts';

const ok = { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };

function rejects(body: unknown): GatewayError {
  try {
    anthropicMessages.parse(body);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error(`accepted: ${JSON.stringify(body)}`);
}

const toolTurns = [
  { role: 'user', content: 'Weather?' },
  { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'w', input: {} }] },
];

describe('POST /v1/messages validation', () => {
  it('accepts a full request and reports stream, model and max tokens', () => {
    const body = {
      ...ok,
      stream: true,
      system: [{ type: 'text', text: 'Be brief', cache_control: { type: 'ephemeral' } }],
      messages: [
        ...toolTurns,
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'sunny' }] },
            { type: 'image', source: { type: 'url', url: 'https://x/y.png' } },
          ],
        },
        { role: 'assistant', content: 'It is' },
      ],
      tools: [
        { name: 'w', input_schema: { type: 'object', properties: {} } },
        { type: 'web_search_20250305', name: 'web_search' },
      ],
      tool_choice: { type: 'auto' },
      temperature: 1,
      top_k: 5,
      stop_sequences: ['\n\nHuman:'],
      thinking: { type: 'enabled', budget_tokens: 1024 },
      max_tokens: 2048,
    };
    const req = anthropicMessages.parse(body);
    expect(req).toMatchObject({ model: 'claude-x', stream: true, wantsStreamUsage: true });
    expect(anthropicMessages.getMaxOutputTokens(req.body)).toBe(2048);
    anthropicMessages.setMaxOutputTokens(req.body, 10);
    expect(req.body.max_tokens).toBe(10);
    expect(anthropicMessages.promptText(req.body)).toContain('sunny');
    expect(anthropicMessages.turns(req.body)).toBe(5);
  });

  it('rejects what the Messages API rejects, naming the field', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ ...ok, model: undefined }, 'model', 'model: Field required'],
      [{ ...ok, max_tokens: undefined }, 'max_tokens', 'max_tokens: Field required'],
      [{ ...ok, max_tokens: 0 }, 'max_tokens', 'max_tokens: Input should be greater than or equal to 1'],
      [{ ...ok, max_tokens: 1.5 }, 'max_tokens', 'max_tokens: Input should be a valid integer'],
      [{ ...ok, messages: [] }, 'messages', 'messages: at least one message is required'],
      [
        { ...ok, messages: [{ role: 'bot', content: 'x' }] },
        'messages.0.role',
        "messages.0.role: Input should be 'user' or 'assistant'",
      ],
      [
        { ...ok, messages: [{ role: 'user', content: '' }] },
        'messages.0',
        'all messages must have non-empty content',
      ],
      [
        { ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] },
        'messages.0.content.0',
        'text content blocks must be non-empty',
      ],
      [
        {
          ...ok,
          messages: [
            {
              role: 'user',
              content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }],
            },
          ],
        },
        'messages.0.content.0.source.media_type',
        "Input should be 'image/jpeg'",
      ],
      [
        {
          ...ok,
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b ' },
          ],
        },
        'messages.1',
        'final assistant content cannot end with trailing whitespace',
      ],
      [
        {
          ...ok,
          messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'b', input: {} }] }],
        },
        'messages.0.content.0',
        '`tool_use` blocks can only be in `assistant` messages',
      ],
      [
        { ...ok, messages: [...toolTurns, { role: 'user', content: 'no result' }] },
        'messages.2',
        '`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1',
      ],
      [
        {
          ...ok,
          messages: [
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'x' }] },
          ],
        },
        'messages.0.content',
        'unexpected `tool_use_id` found in `tool_result` blocks: toolu_9',
      ],
      [{ ...ok, system: [{ type: 'image' }] }, 'system.0.type', "Input should be 'text'"],
      [
        { ...ok, tools: [{ name: 'bad name', input_schema: { type: 'object' } }] },
        'tools.0.name',
        'String should match pattern',
      ],
      [{ ...ok, tools: [{ name: 'f' }] }, 'tools.0.input_schema', 'Field required'],
      [
        { ...ok, tools: [{ name: 'f', input_schema: { type: 'string' } }] },
        'tools.0.input_schema.type',
        "Input should be 'object'",
      ],
      [
        { ...ok, tool_choice: { type: 'any' } },
        'tool_choice',
        'tool_choice may only be specified while providing tools',
      ],
      [{ ...ok, temperature: 1.5 }, 'temperature', 'Input should be between 0 and 1'],
      [{ ...ok, stream: 'yes' }, 'stream', 'Input should be a valid boolean'],
      [
        { ...ok, thinking: { type: 'enabled', budget_tokens: 500 } },
        'thinking.budget_tokens',
        'greater than or equal to 1024',
      ],
    ];
    for (const [body, param, message] of cases) {
      const err = rejects(body);
      expect([param, err.code, err.param]).toEqual([param, 'SLUICE_ERR_INVALID_REQUEST', param]);
      expect(err.message).toContain(message);
    }
  });
});

describe('Anthropic error envelope', () => {
  it("maps every gateway error's status to Anthropic's error type", () => {
    const expected: Record<number, string> = {
      400: 'invalid_request_error',
      401: 'authentication_error',
      403: 'permission_error',
      404: 'not_found_error',
      405: 'invalid_request_error',
      408: 'invalid_request_error',
      413: 'request_too_large',
      415: 'invalid_request_error',
      431: 'request_too_large',
      429: 'rate_limit_error',
      500: 'api_error',
      502: 'api_error',
      503: 'overloaded_error',
      504: 'timeout_error',
      // SLUICE_ERR_LOOP_DETECTED: Anthropic has no loop type; a server-side 5xx is api_error
      508: 'api_error',
    };
    for (const code of Object.keys(ERRORS) as ErrorCode[]) {
      const err = new GatewayError(code, `boom ${code}`);
      const body = JSON.parse(anthropicMessages.errorBody(err));
      expect(body).toEqual({
        type: 'error',
        // the body's code is OpenAI's equivalent where there is one (model_not_found), else Sluice's
        error: {
          type: expected[err.status],
          message: `boom ${code}`,
          details: { error_code: code === 'SLUICE_ERR_UNKNOWN_MODEL' ? 'model_not_found' : code },
        },
      });
    }
    const overloaded = new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', 'x', { status: 529 });
    expect(JSON.parse(anthropicMessages.errorBody(overloaded)).error.type).toBe('overloaded_error');
  });
});
