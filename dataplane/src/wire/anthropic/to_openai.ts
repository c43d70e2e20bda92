// Anthropic Messages format -> OpenAI chat format: the request (for Anthropic clients served by an
// OpenAI-compatible backend) and the response (for OpenAI clients calling an Anthropic backend).
// Pure functions: what OpenAI chat cannot express goes through `unsupported`, never silently away.

import { shownValue } from '../../api/validate.ts';
import type { Usage } from '../../providers/types.ts';
import { toOpenAIUsage } from '../openai/usage.ts';
import {
  type AnthropicBlock,
  type AnthropicMessage,
  anthropicStopToFinish,
  blocksText,
  fromAnthropicUsage,
} from './format.ts';
import type { ConvertOptions } from './from_openai.ts';

type Obj = Record<string, unknown>;

export interface ToOpenAIOptions extends ConvertOptions {
  /** ask for usage in the stream (stream_options.include_usage); off for providers that reject it */
  streamUsage: boolean;
  /** the provider takes max_completion_tokens instead of max_tokens */
  maxCompletionTokens?: boolean;
  /** features the provider's preset declares unsupported */
  presetUnsupported?: ReadonlyArray<string>;
  /** the most stop sequences the provider takes */
  maxStopSequences?: number;
  /** the longest tool name the provider takes */
  maxToolNameLength?: number;
  /** filled with the client path each chat message came from (`system`, `messages[i]`) */
  origins?: string[];
}

/** Top-level fields that only tune how Anthropic serves the request; an OpenAI backend can ignore them. */
const IGNORABLE = new Set(['service_tier', 'speed', 'diagnostics', 'cache_control']);
/** Fields this translation handles. Anything else is a feature OpenAI chat lacks: a 400, not a silent drop. */
const HANDLED = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'output_config',
]);

function imagePart(b: AnthropicBlock, path: string, o: ConvertOptions): Obj {
  const src = b.source ?? { type: '' };
  if (src.type === 'base64') {
    return { type: 'image_url', image_url: { url: `data:${src.media_type};base64,${src.data}` } };
  }
  if (src.type === 'url') return { type: 'image_url', image_url: { url: src.url } };
  return o.unsupported(`image sources of type '${src.type}'`, `${path}.source.type`);
}

/** A user turn: tool results become `tool` messages (first, as OpenAI requires), the rest one user message. */
function userMessages(content: string | AnthropicBlock[], path: string, o: ConvertOptions): Obj[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  const tools: Obj[] = [];
  const parts: Obj[] = [];
  content.forEach((b, j) => {
    const p = `${path}[${j}]`;
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: b.text ?? '' });
        break;
      case 'image':
        parts.push(imagePart(b, p, o));
        break;
      case 'tool_result': {
        if (Array.isArray(b.content) && b.content.some((c) => c.type !== 'text')) {
          o.unsupported('non-text tool_result content (images or documents in tool results)', p);
        }
        tools.push({ role: 'tool', tool_call_id: b.tool_use_id, content: blocksText(b.content) });
        break;
      }
      default:
        o.unsupported(`'${b.type}' content blocks`, `${p}.type`);
    }
  });
  const out = [...tools];
  if (parts.length > 0) {
    const allText = parts.every((p) => p.type === 'text');
    out.push({ role: 'user', content: allText ? parts.map((p) => p.text).join('\n') : parts });
  }
  return out;
}

function assistantMessage(content: string | AnthropicBlock[], path: string, o: ConvertOptions): Obj {
  if (typeof content === 'string') return { role: 'assistant', content };
  const text: string[] = [];
  const calls: Obj[] = [];
  content.forEach((b, j) => {
    const p = `${path}[${j}]`;
    if (b.type === 'text') text.push(b.text ?? '');
    else if (b.type === 'tool_use') {
      calls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
    } else if (b.type === 'thinking' || b.type === 'redacted_thinking') {
      // Earlier turns' reasoning is Anthropic-specific state; the answer it led to is kept.
    } else o.unsupported(`'${b.type}' content blocks`, `${p}.type`);
  });
  const msg: Obj = { role: 'assistant', content: text.length ? text.join('') : null };
  if (calls.length) msg.tool_calls = calls;
  return msg;
}

function openaiTools(tools: unknown[], o: ToOpenAIOptions): Obj[] {
  const maxName = o.maxToolNameLength;
  return tools.map((raw, i) => {
    const t = (raw ?? {}) as Obj;
    if (t.type !== undefined && t.type !== null && t.type !== 'custom') {
      o.unsupported(`Anthropic server tools ('${shownValue(t.type)}')`, `tools[${i}].type`);
    }
    // Anthropic takes names of up to 128 characters; renaming would break the client's tool calls
    if (maxName !== undefined && typeof t.name === 'string' && t.name.length > maxName)
      o.unsupported(
        `tool names longer than ${maxName} characters ('${shownValue(t.name)}')`,
        `tools[${i}].name`,
      );
    const fn: Obj = { name: t.name, parameters: t.input_schema ?? { type: 'object', properties: {} } };
    if (typeof t.description === 'string') fn.description = t.description;
    if (t.strict === true) fn.strict = true;
    return { type: 'function', function: fn };
  });
}

function openaiToolChoice(tc: Obj, out: Obj): void {
  switch (tc.type) {
    case 'auto':
      out.tool_choice = 'auto';
      break;
    case 'any':
      out.tool_choice = 'required';
      break;
    case 'none':
      out.tool_choice = 'none';
      break;
    case 'tool':
      out.tool_choice = { type: 'function', function: { name: tc.name } };
      break;
    default:
      break;
  }
  if (tc.disable_parallel_tool_use === true && tc.type !== 'none') out.parallel_tool_calls = false;
}

function usesImages(messages: Array<{ content: unknown }>): boolean {
  return messages.some(
    (m) => Array.isArray(m.content) && (m.content as AnthropicBlock[]).some((b) => b.type === 'image'),
  );
}

/** An Anthropic Messages request -> an OpenAI chat completions request. */
export function anthropicToOpenAIChat(body: Obj, o: ToOpenAIOptions): Obj {
  for (const key of Object.keys(body)) {
    if (!HANDLED.has(key) && !IGNORABLE.has(key)) o.unsupported(`'${key}'`, key);
  }
  const messages = body.messages as Array<{ role: string; content: string | AnthropicBlock[] }>;
  const quirks = new Set(o.presetUnsupported ?? []);
  if (quirks.has('tools') && Array.isArray(body.tools) && body.tools.length > 0)
    o.unsupported('tools', 'tools');
  if (quirks.has('vision') && usesImages(messages)) o.unsupported('images (vision)', 'messages');
  const oc = (body.output_config ?? {}) as Obj;
  if (quirks.has('json') && oc.format)
    o.unsupported('structured output (output_config.format)', 'output_config');
  if (body.top_k !== undefined) o.unsupported('top_k', 'top_k');
  const thinking = body.thinking as Obj | undefined;
  if (thinking && thinking.type !== 'disabled') o.unsupported('extended thinking', 'thinking');

  const out: Obj = { model: o.model };
  const msgs: Obj[] = [];
  const system = blocksText(body.system);
  if (system) msgs.push({ role: 'system', content: system });
  o.origins?.push(...msgs.map(() => 'system'));
  messages.forEach((m, i) => {
    const path = `messages[${i}].content`;
    if (m.role === 'user') msgs.push(...userMessages(m.content, path, o));
    else if (m.role === 'assistant') msgs.push(assistantMessage(m.content, path, o));
    else if (m.role === 'system') msgs.push({ role: 'system', content: blocksText(m.content) });
    while (o.origins && o.origins.length < msgs.length) o.origins.push(`messages[${i}]`);
  });
  out.messages = msgs;
  out[o.maxCompletionTokens ? 'max_completion_tokens' : 'max_tokens'] = body.max_tokens;
  for (const k of ['temperature', 'top_p'] as const) if (typeof body[k] === 'number') out[k] = body[k];
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length > 0) {
    const max = o.maxStopSequences;
    if (max !== undefined && body.stop_sequences.length > max)
      o.unsupported(`more than ${max} stop sequences`, 'stop_sequences');
    out.stop = body.stop_sequences;
  }
  const user = (body.metadata as Obj | undefined)?.user_id;
  if (typeof user === 'string') out.user = user;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    out.tools = openaiTools(body.tools, o);
    if (body.tool_choice) openaiToolChoice(body.tool_choice as Obj, out);
  }
  const format = oc.format as Obj | undefined;
  if (format) {
    if (format.type !== 'json_schema')
      o.unsupported(`output format '${shownValue(format.type)}'`, 'output_config.format');
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: format.schema, strict: true },
    };
  }
  if (oc.effort !== undefined && oc.effort !== null) {
    if (!['low', 'medium', 'high'].includes(oc.effort as string)) {
      o.unsupported(`effort '${shownValue(oc.effort)}'`, 'output_config.effort');
    }
    out.reasoning_effort = oc.effort;
  }
  for (const k of Object.keys(oc)) {
    if (k !== 'format' && k !== 'effort') o.unsupported(`'output_config.${k}'`, `output_config.${k}`);
  }
  if (body.stream === true) {
    out.stream = true;
    if (o.streamUsage) out.stream_options = { include_usage: true };
  }
  return out;
}

/** An Anthropic message -> an OpenAI chat.completion body (and the usage it reports). */
export function anthropicMessageToOpenAI(
  msg: Partial<AnthropicMessage>,
  fallbackModel: string,
): { body: Obj; usage: Usage | undefined; finishReason: string | null } {
  const text: string[] = [];
  const calls: Obj[] = [];
  for (const b of msg.content ?? []) {
    if (b.type === 'text') text.push(b.text ?? '');
    else if (b.type === 'tool_use') {
      calls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
    }
  }
  const message: Obj = {
    role: 'assistant',
    content: text.length || calls.length === 0 ? text.join('') : null,
    refusal: null,
  };
  if (calls.length) message.tool_calls = calls;
  const finishReason = anthropicStopToFinish(msg.stop_reason) ?? 'stop';
  const usage = fromAnthropicUsage(msg.usage);
  const body: Obj = {
    id: msg.id ?? 'msg_sluice',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: msg.model ?? fallbackModel,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason }],
  };
  if (usage) body.usage = toOpenAIUsage(usage);
  return { body, usage, finishReason };
}
