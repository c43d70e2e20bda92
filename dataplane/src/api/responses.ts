// The OpenAI Responses inbound API: POST /v1/responses (the Vercel AI SDK's default `openai(model)`,
// the OpenAI Agents SDK, Codex CLI). Errors leave in OpenAI's envelope. A conversation continued with
// `previous_response_id` is expanded from Sluice's own state store before limits are checked (see
// responses/state.ts), so the prompt that is counted and filtered is the whole one the backend gets.
import type { GatewayError } from '../errors.ts';
import { prepareConversation, storeConversation } from '../responses/conversation.ts';
import { responsesPromptText } from '../wire/responses/format.ts';
import { validateResponsesBody } from './responses_validate.ts';
import type { ClientApiSpec, ClientRequest } from './types.ts';
import { requireObject, requireString } from './validate.ts';

function parse(raw: unknown): ClientRequest {
  const body = requireObject(raw);
  const model = requireString(body, 'model');
  validateResponsesBody(body);
  // A Responses stream always ends with the usage (response.completed carries it).
  const stream = body.stream === true;
  return { model, stream, body, wantsStreamUsage: stream };
}

export const openaiResponses: ClientApiSpec = {
  api: 'openai-responses',
  path: '/v1/responses',
  parse,
  errorBody: (err: GatewayError) => JSON.stringify(err.toJSON()),
  promptText: responsesPromptText,
  turns: (body) =>
    (typeof body.input === 'string' ? 1 : (body.input as unknown[]).length) + (body.instructions ? 1 : 0),
  getMaxOutputTokens: (body) =>
    typeof body.max_output_tokens === 'number' ? body.max_output_tokens : undefined,
  setMaxOutputTokens: (body, n) => {
    body.max_output_tokens = n;
  },
  prepare: prepareConversation,
  completed: storeConversation,
};
