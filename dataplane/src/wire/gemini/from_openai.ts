// OpenAI chat request -> Gemini GenerateContentRequest (pure; no I/O).
// Gemini differs from OpenAI in ways the real API enforces: roles are only `user` and `model`, system
// prompts go to `systemInstruction`, tool results are `functionResponse` parts in a user turn whose
// count must equal the calls of the model turn before it, arguments are objects (not JSON strings),
// and schemas are an OpenAPI subset (no additionalProperties, $schema, $ref).

import { shownValue } from '../../api/validate.ts';
import type { TranslateContext } from '../../providers/types.ts';
import {
  contentParts,
  contentText,
  functionTools,
  type InputPart,
  invalid,
  maxOutputTokens,
  type OpenAIMessage,
  parseToolArguments,
  rejectUntranslatable,
  stopSequences,
  toolCallNames,
  toolChoice,
  unsupported,
} from '../openai/request.ts';

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { id?: string; name: string; args: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/**
 * Gemini 3 returns a thought signature with each function call and rejects a later turn that omits it.
 * OpenAI clients only echo the tool call id back, so the signature rides inside the id.
 */
const SIGNATURE_MARK = '__thought__';

/** The signature travels base64url-encoded so the id stays within [A-Za-z0-9_-] (Anthropic tool ids). */
export function encodeToolCallId(base: string, signature: string | undefined): string {
  if (!signature) return base;
  return `${base}${SIGNATURE_MARK}${Buffer.from(signature, 'base64').toString('base64url')}`;
}

export function decodeToolCallId(id: string): { base: string; signature: string | undefined } {
  const at = id.indexOf(SIGNATURE_MARK);
  if (at < 0) return { base: id, signature: undefined };
  const packed = id.slice(at + SIGNATURE_MARK.length);
  return { base: id.slice(0, at), signature: Buffer.from(packed, 'base64url').toString('base64') };
}

/** Gemini's rule for a function name (OpenAI's and Anthropic's also allow a leading digit or '-'). */
const GEMINI_FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

/**
 * Gemini refuses a name outside its rule in a declaration and in history (functionCall and
 * functionResponse parts) alike; renaming would make the model call a function the client does not
 * have, so such a name is the client's 400 naming where it is.
 */
function checkGeminiName(name: string, param: string, ctx: TranslateContext): void {
  if (!GEMINI_FUNCTION_NAME.test(name))
    unsupported(
      ctx,
      `function names that do not start with a letter or underscore, hold characters other than a-z, A-Z, 0-9, '_', '.', ':' and '-', or are longer than 64 characters ('${shownValue(name)}')`,
      param,
    );
}

function toGeminiPart(p: InputPart): GeminiPart {
  if (p.kind === 'text') return { text: p.text };
  if (p.kind === 'inline') return { inlineData: { mimeType: p.mimeType, data: p.data } };
  return { fileData: { mimeType: p.mimeType ?? 'image/jpeg', fileUri: p.url } };
}

/** Gemini's functionResponse.response must be an object; plain text results are wrapped. */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
    return { result: parsed };
  } catch {
    return { result: text };
  }
}

export function toGeminiContents(
  messages: OpenAIMessage[],
  ctx: TranslateContext,
): { contents: GeminiContent[]; system: GeminiPart[] } {
  const contents: GeminiContent[] = [];
  const system: GeminiPart[] = [];
  const names = toolCallNames(messages);
  // Consecutive messages of one role become one turn (several tool results answer one model turn).
  const add = (role: GeminiContent['role'], parts: GeminiPart[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = contentText(m.content, `${at}.content`, ctx);
        if (text) system.push({ text });
        break;
      }
      case 'user':
        add('user', contentParts(m.content, `${at}.content`, ctx).map(toGeminiPart));
        break;
      case 'assistant': {
        const parts = contentParts(m.content, `${at}.content`, ctx).map(toGeminiPart);
        (m.tool_calls ?? []).forEach((c, j) => {
          const name = c.function?.name;
          if (!name) invalid(`${at}.tool_calls[${j}].function.name`, 'a tool call needs a function name');
          // a result is sent under its call's name, so checking the call covers both parts
          checkGeminiName(name, `${at}.tool_calls[${j}].function.name`, ctx);
          // Call ids are not sent back: Gemini matches responses to calls by name and order, and an id
          // minted by another provider (toolu_..., call_...) means nothing to it.
          const { signature } = decodeToolCallId(c.id ?? '');
          const args = parseToolArguments(c.function?.arguments, `${at}.tool_calls[${j}].function.arguments`);
          const part: GeminiPart = { functionCall: { name, args } };
          if (signature) part.thoughtSignature = signature;
          parts.push(part);
        });
        add('model', parts);
        break;
      }
      case 'tool': {
        const id = m.tool_call_id ?? '';
        const name = names.get(id);
        if (!name)
          invalid(
            `${at}.tool_call_id`,
            `'${at}.tool_call_id' does not match a tool call of an earlier message`,
          );
        const text = contentText(m.content, `${at}.content`, ctx);
        add('user', [{ functionResponse: { name, response: toolResponse(text) } }]);
        break;
      }
      case 'function': {
        if (!m.name) invalid(`${at}.name`, `'${at}.name' is required for function messages`);
        checkGeminiName(m.name, `${at}.name`, ctx);
        const text = contentText(m.content, `${at}.content`, ctx);
        add('user', [{ functionResponse: { name: m.name, response: toolResponse(text) } }]);
        break;
      }
      default:
        invalid(`${at}.role`, `'${at}.role' is not a chat role`);
    }
  });
  if (contents.length === 0)
    invalid('messages', 'at least one user or assistant message is required besides system messages');
  return { contents, system };
}

const SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

/**
 * JSON Schema -> Gemini's OpenAPI-style Schema: local $refs inlined, `type: [x, "null"]` -> nullable,
 * `const` -> one-value enum, and keywords Gemini rejects (additionalProperties, $schema, ...) dropped.
 */
export function toGeminiSchema(schema: unknown, root: unknown = schema, depth = 0): unknown {
  if (depth > 32 || schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  let s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string') {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(s.$ref);
    const defs = m
      ? ((root as Record<string, unknown>)[m[1] as string] as Record<string, unknown>)
      : undefined;
    const target = m && defs ? defs[m[2] as string] : undefined;
    if (target === undefined) return {};
    s = { ...(target as Record<string, unknown>), ...s };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type') {
      const types = Array.isArray(v) ? v.filter((t) => t !== 'null') : [v];
      if (Array.isArray(v) && v.includes('null')) out.nullable = true;
      if (typeof types[0] === 'string') out.type = types[0].toUpperCase();
    } else if (k === 'const') out.enum = [v];
    else if (k === 'properties' && v && typeof v === 'object') {
      out.properties = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([p, ps]) => [
          p,
          toGeminiSchema(ps, root, depth + 1),
        ]),
      );
    } else if (k === 'items') out.items = toGeminiSchema(v, root, depth + 1);
    else if (k === 'anyOf' || k === 'oneOf') {
      out.anyOf = (v as unknown[]).map((x) => toGeminiSchema(x, root, depth + 1));
    } else if (SCHEMA_KEYS.has(k)) out[k] = v;
  }
  return out;
}

/** Gemini's candidateCount range is 1..8 (OpenAI's n goes to 128). */
const MAX_CANDIDATES = 8;
/** Gemini's stopSequences take at most 5 (OpenAI's stop 4, Anthropic's stop_sequences more). */
const MAX_STOPS = 5;

const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 0, low: 1024, medium: 8192, high: 24576 };

function generationConfig(body: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  if (typeof body.temperature === 'number') g.temperature = body.temperature;
  if (typeof body.top_p === 'number') g.topP = body.top_p;
  const max = maxOutputTokens(body);
  if (max !== undefined) g.maxOutputTokens = max;
  const stop = stopSequences(body.stop);
  if (stop && stop.length > MAX_STOPS) unsupported(ctx, `more than ${MAX_STOPS} stop sequences`, 'stop');
  if (stop?.length) g.stopSequences = stop;
  if (typeof body.n === 'number' && body.n > MAX_CANDIDATES) unsupported(ctx, `n > ${MAX_CANDIDATES}`, 'n');
  if (typeof body.n === 'number' && body.n > 1) g.candidateCount = body.n;
  if (typeof body.presence_penalty === 'number') g.presencePenalty = body.presence_penalty;
  if (typeof body.frequency_penalty === 'number') g.frequencyPenalty = body.frequency_penalty;
  if (typeof body.seed === 'number') g.seed = body.seed;
  // Google's own OpenAI-compatibility mapping of reasoning_effort to a thinking budget
  // an own key only: '__proto__' or 'constructor' must not find Object.prototype's members
  const effort = body.reasoning_effort;
  const budget =
    typeof effort === 'string' && Object.hasOwn(THINKING_BUDGET, effort)
      ? THINKING_BUDGET[effort]
      : undefined;
  if (effort !== undefined && budget === undefined)
    invalid('reasoning_effort', "'reasoning_effort' must be none, minimal, low, medium or high");
  if (budget !== undefined) g.thinkingConfig = { thinkingBudget: budget };
  const rf = body.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  if (rf !== undefined && rf !== null) {
    if (rf.type === 'json_object') g.responseMimeType = 'application/json';
    else if (rf.type === 'json_schema') {
      g.responseMimeType = 'application/json';
      if (rf.json_schema?.schema !== undefined) g.responseSchema = toGeminiSchema(rf.json_schema.schema);
    } else if (rf.type !== 'text')
      unsupported(ctx, `response_format of type '${shownValue(rf.type)}'`, 'response_format');
  }
  return g;
}

function toolFields(body: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown> {
  const tools = functionTools(body.tools, ctx);
  const out: Record<string, unknown> = {};
  if (tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: tools.map((t, i) => {
          checkGeminiName(t.name, `tools[${i}].function.name`, ctx);
          const d: Record<string, unknown> = { name: t.name };
          if (t.description) d.description = t.description;
          if (t.parameters && Object.keys((t.parameters.properties as object | undefined) ?? {}).length > 0)
            d.parameters = toGeminiSchema(t.parameters);
          return d;
        }),
      },
    ];
  }
  const choice = toolChoice(body.tool_choice);
  if (choice && tools.length > 0) {
    const mode = { auto: 'AUTO', none: 'NONE', required: 'ANY', function: 'ANY' }[choice.mode];
    const cfg: Record<string, unknown> = { mode };
    if (choice.mode === 'function') cfg.allowedFunctionNames = [choice.name];
    out.toolConfig = { functionCallingConfig: cfg };
  }
  return out;
}

/** The GenerateContentRequest body for an OpenAI chat request. */
export function toGeminiRequest(
  body: Record<string, unknown>,
  ctx: TranslateContext,
): Record<string, unknown> {
  rejectUntranslatable(body, ctx);
  const { contents, system } = toGeminiContents(body.messages as OpenAIMessage[], ctx);
  const req: Record<string, unknown> = { contents };
  if (system.length > 0) req.systemInstruction = { parts: system };
  const gen = generationConfig(body, ctx);
  if (Object.keys(gen).length > 0) req.generationConfig = gen;
  Object.assign(req, toolFields(body, ctx));
  return req;
}
