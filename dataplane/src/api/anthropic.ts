// The Anthropic Messages inbound API: POST /v1/messages for clients built on @anthropic-ai/sdk (or
// anything speaking Anthropic's wire format). Requests are validated the way Anthropic validates them
// and every error leaves in Anthropic's envelope, with Anthropic's error type for the HTTP status:
//   {"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required",
//    "details":{"error_code":"SLUICE_ERR_INVALID_REQUEST","param":"max_tokens"}}}
import type { GatewayError } from '../errors.ts';
import { anthropicErrorJSON } from '../wire/anthropic/error.ts';
import { anthropicPromptText } from '../wire/anthropic/format.ts';
import { fail, validateMessages, validateSystem, validateTools } from './anthropic_validate.ts';
import { toolDefinitionsText } from './prompt_extras.ts';
import type { ClientApiSpec, ClientRequest } from './types.ts';
import { isObj } from './validate.ts';

type Obj = Record<string, unknown>;

function optionalNumber(body: Obj, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(key, 'Input should be a valid number');
  if (v < min || v > max) fail(key, `Input should be between ${min} and ${max}`);
}

function validateSampling(body: Obj): void {
  optionalNumber(body, 'temperature', 0, 1);
  optionalNumber(body, 'top_p', 0, 1);
  const k = body.top_k;
  if (k !== undefined && k !== null && (typeof k !== 'number' || !Number.isInteger(k) || k < 0)) {
    fail('top_k', 'Input should be a non-negative integer');
  }
  const stops = body.stop_sequences;
  if (stops !== undefined && stops !== null) {
    if (!Array.isArray(stops) || stops.some((s) => typeof s !== 'string')) {
      fail('stop_sequences', 'Input should be a valid list of strings');
    }
    // Anthropic's own rule, so the answer is the same whichever backend serves the route
    for (const s of stops as string[]) {
      if (s === '') fail('stop_sequences', 'each stop sequence must be non-empty');
      if (s.trim() === '') fail('stop_sequences', 'each stop sequence must contain non-whitespace');
    }
  }
}

function validateOptions(body: Obj, maxTokens: number): void {
  const md = body.metadata;
  if (md !== undefined && md !== null) {
    if (!isObj(md)) fail('metadata', 'Input should be a valid dictionary');
    if (md.user_id !== undefined && md.user_id !== null && typeof md.user_id !== 'string') {
      fail('metadata.user_id', 'Input should be a valid string');
    }
  }
  const th = body.thinking;
  if (th !== undefined && th !== null) {
    if (!isObj(th) || typeof th.type !== 'string') fail('thinking.type', 'Field required');
    if (th.type === 'enabled') {
      const budget = th.budget_tokens;
      if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024) {
        fail('thinking.budget_tokens', 'Input should be greater than or equal to 1024');
      }
      if (budget >= maxTokens) fail('max_tokens', 'must be greater than thinking.budget_tokens');
    }
  }
  if (body.output_config !== undefined && body.output_config !== null && !isObj(body.output_config)) {
    fail('output_config', 'Input should be a valid dictionary');
  }
}

function parse(raw: unknown): ClientRequest {
  if (!isObj(raw)) fail('', 'request body must be a JSON object');
  const body = raw;
  const model = body.model;
  if (model === undefined || model === null) fail('model', 'Field required');
  if (typeof model !== 'string' || model === '') fail('model', 'Input should be a non-empty string');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) fail('max_tokens', 'Field required');
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens))
    fail('max_tokens', 'Input should be a valid integer');
  if (maxTokens < 1) fail('max_tokens', 'Input should be greater than or equal to 1');
  validateMessages(body.messages);
  validateSystem(body.system);
  validateTools(body.tools, body.tool_choice);
  validateSampling(body);
  validateOptions(body, maxTokens);
  const stream = body.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    fail('stream', 'Input should be a valid boolean');
  // Anthropic streams always carry usage (message_start and message_delta), so the client always gets it.
  return { model, stream: stream === true, body, wantsStreamUsage: stream === true };
}

export const anthropicMessages: ClientApiSpec = {
  api: 'anthropic-messages',
  path: '/v1/messages',
  parse,
  errorBody: (err: GatewayError) => anthropicErrorJSON(err),
  forwardHeaders: ['anthropic-beta'],
  // tool definitions are billed as input and seen by content filters (api/prompt_extras.ts)
  promptText: (body) => {
    const tools = toolDefinitionsText(body);
    const text = anthropicPromptText(body);
    return tools ? `${text}\n${tools}` : text;
  },
  turns: (body) => (body.messages as unknown[]).length + (body.system ? 1 : 0),
  getMaxOutputTokens: (body) => (typeof body.max_tokens === 'number' ? body.max_tokens : undefined),
  setMaxOutputTokens: (body, n) => {
    body.max_tokens = n;
  },
};
