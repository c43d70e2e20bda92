// The OpenAI inbound APIs: chat completions, legacy completions and embeddings.
import type { GatewayError } from '../errors.ts';
import type { ClientApiSpec, ClientRequest } from './types.ts';
import {
  contentText,
  invalid,
  optionalBoolean,
  optionalNumberInRange,
  optionalPositiveInt,
  requireObject,
  requireString,
} from './validate.ts';

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function errorBody(err: GatewayError): string {
  return JSON.stringify(err.toJSON());
}

function streamUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options;
  if (so === undefined || so === null) return false;
  if (typeof so !== 'object' || Array.isArray(so))
    invalid('stream_options', "'stream_options' must be an object");
  const inc = (so as Record<string, unknown>).include_usage;
  if (inc !== undefined && typeof inc !== 'boolean') {
    invalid('stream_options.include_usage', "'stream_options.include_usage' must be a boolean");
  }
  return inc === true;
}

function commonSampling(body: Record<string, unknown>): void {
  optionalNumberInRange(body, 'temperature', 0, 2);
  optionalNumberInRange(body, 'top_p', 0, 1);
  optionalPositiveInt(body, 'max_tokens');
  optionalPositiveInt(body, 'max_completion_tokens');
  optionalPositiveInt(body, 'n');
}

function maxTokens(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === 'number' ? v : undefined;
}

function setMaxTokens(body: Record<string, unknown>, n: number): void {
  if (body.max_completion_tokens !== undefined) body.max_completion_tokens = n;
  else body.max_tokens = n;
}

export const openaiChat: ClientApiSpec = {
  api: 'openai-chat',
  path: '/v1/chat/completions',
  parse(raw): ClientRequest {
    const body = requireObject(raw);
    const model = requireString(body, 'model');
    const messages = body.messages;
    if (messages === undefined) invalid('messages', "'messages' is required");
    if (!Array.isArray(messages) || messages.length === 0)
      invalid('messages', "'messages' must be a non-empty array");
    messages.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m))
        invalid(`messages[${i}]`, `'messages[${i}]' must be an object`);
      const role = (m as Record<string, unknown>).role;
      if (typeof role !== 'string' || !ROLES.has(role)) {
        invalid(`messages[${i}].role`, `'messages[${i}].role' must be one of ${[...ROLES].join(', ')}`);
      }
      const content = (m as Record<string, unknown>).content;
      if (
        content !== undefined &&
        content !== null &&
        typeof content !== 'string' &&
        !Array.isArray(content)
      ) {
        invalid(
          `messages[${i}].content`,
          `'messages[${i}].content' must be a string or an array of content parts`,
        );
      }
    });
    if (body.tools !== undefined && !Array.isArray(body.tools)) invalid('tools', "'tools' must be an array");
    commonSampling(body);
    const stream = optionalBoolean(body, 'stream');
    return { model, stream, body, wantsStreamUsage: stream && streamUsage(body) };
  },
  errorBody,
  promptText(body) {
    let out = '';
    for (const m of body.messages as Array<Record<string, unknown>>) {
      const t = contentText(m.content);
      if (t) out += (out ? '\n' : '') + t;
    }
    return out;
  },
  turns: (body) => (body.messages as unknown[]).length,
  getMaxOutputTokens: maxTokens,
  setMaxOutputTokens: setMaxTokens,
};

export const openaiCompletions: ClientApiSpec = {
  api: 'openai-completions',
  path: '/v1/completions',
  parse(raw): ClientRequest {
    const body = requireObject(raw);
    const model = requireString(body, 'model');
    const p = body.prompt;
    if (p === undefined) invalid('prompt', "'prompt' is required");
    if (typeof p !== 'string' && !(Array.isArray(p) && p.every((x) => typeof x === 'string'))) {
      invalid('prompt', "'prompt' must be a string or an array of strings");
    }
    commonSampling(body);
    const stream = optionalBoolean(body, 'stream');
    return { model, stream, body, wantsStreamUsage: stream && streamUsage(body) };
  },
  errorBody,
  promptText: (body) => (Array.isArray(body.prompt) ? body.prompt.join('\n') : String(body.prompt)),
  turns: () => 1,
  getMaxOutputTokens: maxTokens,
  setMaxOutputTokens: setMaxTokens,
};

export const openaiEmbeddings: ClientApiSpec = {
  api: 'openai-embeddings',
  path: '/v1/embeddings',
  parse(raw): ClientRequest {
    const body = requireObject(raw);
    const model = requireString(body, 'model');
    const input = body.input;
    if (input === undefined) invalid('input', "'input' is required");
    const ok =
      (typeof input === 'string' && input.length > 0) ||
      (Array.isArray(input) &&
        input.length > 0 &&
        input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
    if (!ok) invalid('input', "'input' must be a non-empty string or array");
    if (body.stream !== undefined && body.stream !== false)
      invalid('stream', 'embeddings cannot be streamed');
    return { model, stream: false, body, wantsStreamUsage: false };
  },
  errorBody,
  promptText: (body) =>
    Array.isArray(body.input)
      ? body.input.filter((x) => typeof x === 'string').join('\n')
      : String(body.input),
  turns: () => 1,
  getMaxOutputTokens: () => undefined,
  setMaxOutputTokens: () => {},
};
