// Reading an OpenAI chat request for translators whose backend is not OpenAI (Gemini, Bedrock, ...).
// The client API already validated the envelope (model, roles, content shape); these helpers read the
// parts each backend needs and turn anything a backend cannot express into the documented 400 that
// names the provider and the feature, instead of silently dropping it.
import { createHash } from 'node:crypto';
import { isBase64, shownValue } from '../../api/validate.ts';
import { GatewayError } from '../../errors.ts';
import type { TranslateContext } from '../../providers/types.ts';

export interface OpenAIToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface OpenAIMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
}

/** What Anthropic (`^[a-zA-Z0-9_-]+$`) and Bedrock (the same, at most 64) take as a tool call id. */
const PORTABLE_TOOL_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A tool call id either backend takes. OpenAI takes any string and other backends mint ids such as
 * 'functions.get_weather:0', which Anthropic and Bedrock refuse. The id only pairs a call with its
 * result inside one request (answers carry the backend's own ids), so one that does not fit is sent
 * as a digest of it: the same on the call and the result, distinct for distinct ids.
 */
export function portableToolId(id: string): string {
  if (PORTABLE_TOOL_ID.test(id)) return id;
  return toolIdDigest(id);
}

/**
 * The chat messages with every tool call id longer than `max` replaced by its digest, on the call and
 * on the result that answers it alike; undefined when none is (the usual case: nothing is copied).
 * For a backend that refuses long ids (OpenAI: 40) in a conversation another provider's turns made.
 */
export function shortToolCallIds(messages: unknown[], max: number): unknown[] | undefined {
  let out: unknown[] | undefined;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OpenAIMessage | null;
    if (m === null || typeof m !== 'object') continue;
    let fixed: OpenAIMessage | undefined;
    if (typeof m.tool_call_id === 'string' && m.tool_call_id.length > max)
      fixed = { ...m, tool_call_id: toolIdDigest(m.tool_call_id) };
    if (
      Array.isArray(m.tool_calls) &&
      m.tool_calls.some((c) => typeof c?.id === 'string' && c.id.length > max)
    )
      fixed = {
        ...(fixed ?? m),
        tool_calls: m.tool_calls.map((c) =>
          typeof c?.id === 'string' && c.id.length > max ? { ...c, id: toolIdDigest(c.id) } : c,
        ),
      };
    if (!fixed) continue;
    out ??= messages.slice();
    out[i] = fixed;
  }
  return out;
}

/** A 40-character stand-in for a tool call id, the same for the same id (portableToolId). */
function toolIdDigest(id: string): string {
  return `toolu_sx${createHash('sha256').update(id).digest('base64url').slice(0, 32)}`;
}

/** One piece of message content in a backend-neutral form. */
export type InputPart =
  | { kind: 'text'; text: string }
  | { kind: 'inline'; mimeType: string; data: string; media: 'image' | 'audio' | 'file' }
  | { kind: 'url'; url: string; mimeType: string | undefined; media: 'image' | 'file' };

export function unsupported(ctx: TranslateContext, feature: string, param?: string): never {
  const p = ctx.provider;
  throw new GatewayError(
    'SLUICE_ERR_UNSUPPORTED_FEATURE',
    `provider '${p.name}' (${p.preset.displayName}) does not support ${feature}`,
    // OpenAI's code for a field a model cannot take; Sluice's own is in x-sluice-error-code
    param === undefined ? {} : { param, publicCode: 'unsupported_parameter' },
  );
}

export function invalid(param: string, message: string): never {
  throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', message, { param, publicCode: 'invalid_value' });
}

/**
 * For translators that leave blank text out (their backend refuses it): a blank last user turn left
 * out would end the conversation with the assistant's message, which the model continues as a
 * prefill instead of answering a new turn. Nothing faithful is left to send: the client's 400.
 * `lastSentRole` is the role of the last message the translator sends.
 */
export function refuseLostLastTurn(
  messages: readonly unknown[],
  lastSentRole: string | undefined,
  backend: string,
): void {
  const roleOf = (m: unknown) => (m as { role?: unknown } | null | undefined)?.role;
  let i = messages.length - 1;
  while (i >= 0 && (roleOf(messages[i]) === 'system' || roleOf(messages[i]) === 'developer')) i--;
  if (i >= 0 && roleOf(messages[i]) === 'user' && lastSentRole === 'assistant')
    invalid(
      `messages[${i}].content`,
      `'messages[${i}].content' is blank: ${backend} refuses text that is empty or only whitespace, and without it the conversation would end with the assistant's message`,
    );
}

/**
 * `data:image/png;base64,AAAA` -> {mimeType, data}; undefined for anything that is not a base64 data
 * URL, a payload that is not base64 included (every caller then answers the client's 400).
 */
export function parseDataUrl(url: string): { mimeType: string; data: string } | undefined {
  const m = /^data:([\w.+-]+\/[\w.+-]+)(?:;[^,;]+)*;base64,(.*)$/s.exec(url);
  if (!m || !isBase64(m[2] as string)) return undefined;
  return { mimeType: (m[1] as string).toLowerCase(), data: m[2] as string };
}

const EXT_MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

/** Best guess of a remote file's media type from its extension (backends that need one require it). */
export function mimeFromUrl(url: string): string | undefined {
  const path = url.split(/[?#]/)[0] ?? '';
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return EXT_MIME[ext];
}

/** The parts of a message's `content` (string, null or an array of typed parts). */
export function contentParts(content: unknown, path: string, ctx: TranslateContext): InputPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ kind: 'text', text: content }];
  if (!Array.isArray(content)) invalid(path, `'${path}' must be a string or an array of content parts`);
  const out: InputPart[] = [];
  content.forEach((raw, i) => {
    const at = `${path}[${i}]`;
    if (raw === null || typeof raw !== 'object') invalid(at, `'${at}' must be an object`);
    const part = raw as Record<string, unknown>;
    switch (part.type) {
      case 'text':
      case 'input_text': {
        if (typeof part.text !== 'string') invalid(`${at}.text`, `'${at}.text' must be a string`);
        if (part.text !== '') out.push({ kind: 'text', text: part.text });
        break;
      }
      case 'image_url': {
        const iu = part.image_url as { url?: unknown } | string | undefined;
        const url = typeof iu === 'string' ? iu : iu?.url;
        if (typeof url !== 'string' || url === '')
          invalid(`${at}.image_url.url`, `'${at}.image_url.url' must be a URL`);
        const data = parseDataUrl(url);
        if (data) out.push({ kind: 'inline', media: 'image', ...data });
        else if (/^https?:\/\//i.test(url))
          out.push({ kind: 'url', url, mimeType: mimeFromUrl(url), media: 'image' });
        else
          invalid(`${at}.image_url.url`, `'${at}.image_url.url' must be an http(s) URL or a base64 data URL`);
        break;
      }
      case 'input_audio': {
        const a = part.input_audio as { data?: unknown; format?: unknown } | undefined;
        if (typeof a?.data !== 'string' || typeof a.format !== 'string')
          invalid(`${at}.input_audio`, `'${at}.input_audio' needs data and format`);
        out.push({ kind: 'inline', media: 'audio', mimeType: `audio/${a.format}`, data: a.data });
        break;
      }
      case 'file': {
        const f = part.file as { file_data?: unknown; file_id?: unknown } | undefined;
        const parsed = typeof f?.file_data === 'string' ? parseDataUrl(f.file_data) : undefined;
        if (!parsed) unsupported(ctx, 'file parts other than base64 file_data', at);
        out.push({ kind: 'inline', media: 'file', ...parsed });
        break;
      }
      default:
        unsupported(ctx, `content parts of type '${shownValue(part.type)}'`, `${at}.type`);
    }
  });
  return out;
}

/** Plain text of a content value (tool results, system prompts). Non-text parts are a 400. */
export function contentText(content: unknown, path: string, ctx: TranslateContext): string {
  return contentParts(content, path, ctx)
    .map((p) => {
      if (p.kind !== 'text') unsupported(ctx, `non-text content in '${path}'`, path);
      return p.text;
    })
    .join('\n');
}

/** Tool-call arguments as an object; the backends take structured input, not a JSON string. */
export function parseToolArguments(args: unknown, path: string): Record<string, unknown> {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') invalid(path, `'${path}' must be a JSON string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    invalid(path, `'${path}' is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    invalid(path, `'${path}' must be a JSON object`);
  return parsed as Record<string, unknown>;
}

/** The function name of every earlier tool call, by id (tool results carry only the id). */
export function toolCallNames(messages: OpenAIMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) {
    for (const c of m.tool_calls ?? []) {
      if (c.id && c.function?.name) names.set(c.id, c.function.name);
    }
  }
  return names;
}

export function stopSequences(stop: unknown): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  if (typeof stop === 'string') return [stop];
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop as string[];
  invalid('stop', "'stop' must be a string or an array of strings");
}

export function maxOutputTokens(body: Record<string, unknown>): number | undefined {
  const v = body.max_completion_tokens ?? body.max_tokens;
  return typeof v === 'number' ? v : undefined;
}

export type ToolChoice = { mode: 'auto' | 'none' | 'required' } | { mode: 'function'; name: string };

export function toolChoice(tc: unknown): ToolChoice | undefined {
  if (tc === undefined || tc === null) return undefined;
  if (tc === 'auto' || tc === 'none' || tc === 'required') return { mode: tc };
  const name = (tc as { function?: { name?: unknown } }).function?.name;
  if (typeof name === 'string' && name !== '') return { mode: 'function', name };
  invalid('tool_choice', "'tool_choice' must be auto, none, required or {type:'function', function:{name}}");
}

export interface FunctionTool {
  name: string;
  description: string | undefined;
  parameters: Record<string, unknown> | undefined;
}

/** `tools` as function declarations; other tool types are not translatable. */
export function functionTools(tools: unknown, ctx: TranslateContext): FunctionTool[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) invalid('tools', "'tools' must be an array");
  return tools.map((raw, i) => {
    const t = raw as { type?: unknown; function?: Record<string, unknown> };
    if (t?.type !== 'function')
      unsupported(ctx, `tools of type '${shownValue(t?.type)}'`, `tools[${i}].type`);
    const f = t.function ?? {};
    if (typeof f.name !== 'string' || f.name === '')
      invalid(`tools[${i}].function.name`, `'tools[${i}].function.name' is required`);
    const params = f.parameters;
    if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params)))
      invalid(`tools[${i}].function.parameters`, `'tools[${i}].function.parameters' must be an object`);
    return {
      name: f.name,
      description: typeof f.description === 'string' ? f.description : undefined,
      parameters: params as Record<string, unknown> | undefined,
    };
  });
}

/** What each refused field asks for, in the refusal's words. */
const UNTRANSLATABLE: ReadonlyArray<readonly [string, string]> = [
  ['audio', 'audio output'],
  ['prediction', 'predicted outputs'],
  ['web_search_options', 'web search (web_search_options)'],
  ['functions', 'the deprecated functions field (use tools)'],
  ['function_call', 'the deprecated function_call field (use tool_choice)'],
];

/**
 * Reject request features the OpenAI -> X translation cannot carry (Gemini, Bedrock): a 400 naming the
 * field, never an answer that silently ignored it. Empty or neutral values ask for nothing.
 */
export function rejectUntranslatable(body: Record<string, unknown>, ctx: TranslateContext): void {
  if (body.logprobs === true || body.top_logprobs !== undefined) unsupported(ctx, 'logprobs', 'logprobs');
  for (const [field, feature] of UNTRANSLATABLE) {
    if (body[field] !== undefined && body[field] !== null) unsupported(ctx, feature, field);
  }
  const bias = body.logit_bias;
  if (bias !== null && typeof bias === 'object' && Object.keys(bias).length > 0)
    unsupported(ctx, 'logit_bias', 'logit_bias');
}
