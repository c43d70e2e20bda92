// The OpenAI inbound APIs: chat completions, legacy completions and embeddings.
import type { GatewayError } from '../errors.ts';
import { openaiErrorJSON } from './openai_error.ts';
import { validateChatMessages, validateChatTools } from './openai_messages.ts';
import { tokenArrayText, toolCallsText, toolDefinitionsText } from './prompt_extras.ts';
import type { ClientApiSpec, ClientRequest } from './types.ts';
import {
  contentText,
  invalid,
  invalidType,
  missing,
  optionalBoolean,
  optionalNumberInRange,
  optionalPositiveInt,
  requireObject,
  requireString,
} from './validate.ts';

const errorBody = (err: GatewayError): string => openaiErrorJSON(err);

function streamUsage(body: Record<string, unknown>): boolean {
  const so = body.stream_options;
  if (so === undefined || so === null) return false;
  if (typeof so !== 'object' || Array.isArray(so)) invalidType('stream_options', 'an object', so);
  const inc = (so as Record<string, unknown>).include_usage;
  if (inc !== undefined && typeof inc !== 'boolean')
    invalidType('stream_options.include_usage', 'a boolean', inc);
  return inc === true;
}

/** In OpenAI's order: a body bad in both max_tokens and temperature is answered about max_tokens. */
function commonSampling(body: Record<string, unknown>): void {
  optionalPositiveInt(body, 'max_tokens');
  optionalPositiveInt(body, 'max_completion_tokens');
  optionalPositiveInt(body, 'n');
  optionalNumberInRange(body, 'temperature', 0, 2);
  optionalNumberInRange(body, 'top_p', 0, 1);
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
    if (messages === undefined || messages === null) missing('messages');
    if (!Array.isArray(messages)) invalidType('messages', 'an array', messages);
    if (messages.length === 0)
      invalid(
        'messages',
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        'empty_array',
      );
    validateChatMessages(messages);
    validateChatTools(body.tools);
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
    // billed as input and seen by content filters like any message (api/prompt_extras.ts)
    for (const extra of [toolCallsText(body.messages), toolDefinitionsText(body)])
      if (extra) out += (out ? '\n' : '') + extra;
    return out;
  },
  turns: (body) => (body.messages as unknown[]).length,
  getMaxOutputTokens: maxTokens,
  setMaxOutputTokens: setMaxTokens,
};

const isTokenId = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 2 ** 31;

/** Strings, token ids, or arrays of token ids (a batch), as /v1/completions takes its prompt. */
function isPromptArray(p: unknown): boolean {
  if (!Array.isArray(p) || p.length === 0) return false;
  if (p.every((x) => typeof x === 'string')) return true;
  if (p.every(isTokenId)) return true;
  return p.every((x) => Array.isArray(x) && x.length > 0 && x.every(isTokenId));
}

export const openaiCompletions: ClientApiSpec = {
  api: 'openai-completions',
  path: '/v1/completions',
  parse(raw): ClientRequest {
    const body = requireObject(raw);
    const model = requireString(body, 'model');
    const p = body.prompt;
    if (p === undefined || p === null) missing('prompt');
    if (typeof p !== 'string' && !isPromptArray(p))
      invalidType(
        'prompt',
        'one of a string, array of strings, array of tokens, or array of token arrays',
        p,
      );
    commonSampling(body);
    const stream = optionalBoolean(body, 'stream');
    return { model, stream, body, wantsStreamUsage: stream && streamUsage(body) };
  },
  errorBody,
  // token ids (as OpenAI takes them) are decoded, so the counter and content filters see their text
  promptText: (body) =>
    typeof body.prompt === 'string'
      ? body.prompt
      : (body.prompt as unknown[]).every((x) => typeof x === 'string')
        ? (body.prompt as string[]).join('\n')
        : tokenArrayText(body.prompt),
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
    if (input === undefined || input === null) missing('input');
    const ok =
      (typeof input === 'string' && input.length > 0) ||
      (Array.isArray(input) &&
        input.length > 0 &&
        input.every((x) => typeof x === 'string' || typeof x === 'number' || Array.isArray(x)));
    if (!ok) invalid('input', "Invalid 'input': expected a non-empty string or array.", 'invalid_value');
    optionalPositiveInt(body, 'dimensions');
    if (body.stream !== undefined && body.stream !== false)
      invalid(
        'stream',
        "Unsupported parameter: 'stream' is not supported for embeddings.",
        'unsupported_parameter',
      );
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
