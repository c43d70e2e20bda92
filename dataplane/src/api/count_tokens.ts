// POST /v1/messages/count_tokens, as Anthropic serves it: the same body as /v1/messages without
// max_tokens, answered with {"input_tokens": N}. Claude Code and the anthropic SDK call it to decide
// when to compact a conversation. Sluice counts the prompt itself, with the tokenizer of the model the
// caller's route sends it to: exact for OpenAI-family tokenizers (o200k, cl100k), an estimate for
// models whose tokenizer is not public (Claude's among them) — the `x-sluice-token-count` header says
// which. Counting is charged to the caller's request rates only (policy/request_rate.ts: it parses a
// prompt of up to the body limit); the caller must be allowed to use the model.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../compiled/compile.ts';
import { findRoute } from '../proxy/find_route.ts';
import type { Identity } from '../proxy/policy_interface.ts';
import { encodingForRoute } from '../proxy/route_encoding.ts';
import { countPromptTokensAsync } from '../tokens/pool.ts';
import { anthropicPromptText } from '../wire/anthropic/format.ts';
import { fail, validateMessages, validateSystem, validateTools } from './anthropic_validate.ts';
import { isObj } from './validate.ts';

export const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

function parse(raw: unknown): { model: string; body: Record<string, unknown> } {
  if (!isObj(raw)) fail('', 'request body must be a JSON object');
  const model = raw.model;
  if (model === undefined || model === null) fail('model', 'Field required');
  if (typeof model !== 'string' || model === '') fail('model', 'Input should be a non-empty string');
  validateMessages(raw.messages);
  validateSystem(raw.system);
  validateTools(raw.tools, raw.tool_choice);
  return { model, body: raw };
}

export async function countTokensHandler(
  req: FastifyRequest,
  reply: FastifyReply,
  runtime: Runtime,
  identity: Identity,
): Promise<FastifyReply> {
  // first: a count refused for its body or model is a request too (Gate.chargeRefused)
  await runtime.gate.admitRequestRate?.(identity);
  const { model, body } = parse(req.body);
  const route = findRoute(
    runtime,
    model,
    '/v1/messages',
    (n) => {
      const v = req.headers[n];
      return Array.isArray(v) ? v[0] : v;
    },
    identity,
  );
  runtime.gate.authorize(identity, route, model);
  const encoding = encodingForRoute(route, model);
  const turns = (body.messages as unknown[]).length + (body.system ? 1 : 0);
  const tokens = await countPromptTokensAsync(anthropicPromptText(body), turns, encoding, identity.namespace);
  return reply
    .header('x-sluice-token-count', encoding === 'estimate' ? 'estimate' : 'exact')
    .send({ input_tokens: tokens });
}
