// The OpenAI Responses API wire format (POST /v1/responses): the subset Sluice serves, its ids, its
// usage object and the `response` object that both whole answers and stream events carry. Shapes follow
// the official openai SDK's types (resources/responses/responses.d.ts).
import { randomBytes } from 'node:crypto';
import { isObj } from '../../api/validate.ts';
import type { Usage } from '../../providers/types.ts';
import { checkedUsage } from '../usage_check.ts';

type Obj = Record<string, unknown>;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface MessageItem {
  type: 'message';
  id: string;
  status: 'in_progress' | 'completed' | 'incomplete';
  role: 'assistant';
  content: Array<OutputText | { type: 'refusal'; refusal: string }>;
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: 'in_progress' | 'completed' | 'incomplete';
}

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: Array<{ type: 'summary_text'; text: string }>;
  content?: Array<{ type: 'reasoning_text'; text: string }>;
}

export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

export type ResponseStatus = 'completed' | 'incomplete' | 'in_progress' | 'failed';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  completed_at?: number | null;
  background: boolean;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: unknown;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  text: { format: unknown };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'auto' | 'disabled';
  usage: ResponsesUsage | null;
  user: string | null;
  metadata: Record<string, string>;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** OpenAI's ids are a prefix and 48 hex characters (resp_, msg_, fc_, rs_). */
export const newResponseId = (): string => `resp_${hex(24)}`;
export const newItemId = (prefix: 'msg' | 'fc' | 'rs'): string => `${prefix}_${hex(24)}`;

/**
 * On an input item: the provider whose store issued the item's id (set by Sluice after it found the id
 * among the tenant's stored items). A symbol, so it is never serialized upstream, into a record or a log;
 * a copy that loses it only makes the item travel as content.
 */
export const ITEM_ISSUER: unique symbol = Symbol('sluice.responses.itemIssuer');

/** A response id as Sluice issues or accepts them: bounded, path-safe (it is a key in the state store). */
export const RESPONSE_ID = /^resp_[A-Za-z0-9_-]{1,120}$/;

/** The ids Sluice gives output items (msg_..., fc_..., rs_...) and OpenAI's: bounded, key-safe. */
export const ITEM_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function toResponsesUsage(u: Usage): ResponsesUsage {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: {
      cached_tokens: u.cachedInputTokens ?? 0,
      cache_write_tokens: u.cacheCreationInputTokens ?? 0,
    },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

export function fromResponsesUsage(u: unknown): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const r = u as Partial<ResponsesUsage>;
  if (typeof r.input_tokens !== 'number' && typeof r.output_tokens !== 'number') return undefined;
  const usage: Usage = { inputTokens: r.input_tokens ?? 0, outputTokens: r.output_tokens ?? 0 };
  const cached = r.input_tokens_details?.cached_tokens;
  if (cached) usage.cachedInputTokens = cached;
  const written = r.input_tokens_details?.cache_write_tokens;
  if (written) usage.cacheCreationInputTokens = written;
  const reasoning = r.output_tokens_details?.reasoning_tokens;
  if (reasoning) usage.reasoningTokens = reasoning;
  return checkedUsage(usage);
}

/**
 * The response object's echo of the request's settings, filled from the client's body (what OpenAI
 * returns whatever the backend: the SDKs and the Agents SDK read `tools`, `tool_choice`, `text`).
 */
export function responseShell(
  body: Obj,
  id: string,
  model: string,
  createdAt: number,
): Omit<ResponseObject, 'status' | 'output' | 'usage'> {
  const reasoning = (body.reasoning ?? {}) as Obj;
  const text = (body.text ?? {}) as Obj;
  return {
    id,
    object: 'response',
    created_at: createdAt,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
    model,
    parallel_tool_calls: body.parallel_tool_calls !== false,
    previous_response_id: typeof body.previous_response_id === 'string' ? body.previous_response_id : null,
    reasoning: {
      effort: typeof reasoning.effort === 'string' ? reasoning.effort : null,
      summary: typeof reasoning.summary === 'string' ? reasoning.summary : null,
    },
    store: body.store !== false,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    text: { format: text.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    truncation: body.truncation === 'auto' ? 'auto' : 'disabled',
    user: typeof body.user === 'string' ? body.user : null,
    metadata: (body.metadata as Record<string, string> | undefined) ?? {},
  };
}

/** The text of every output_text part of every message item (the SDK's `output_text`). */
export function outputText(output: OutputItem[]): string {
  let s = '';
  for (const item of output) {
    if (item.type !== 'message') continue;
    for (const part of item.content) if (part.type === 'output_text') s += part.text;
  }
  return s;
}

function partText(part: unknown): string {
  if (!isObj(part)) return '';
  for (const key of ['text', 'refusal'] as const)
    if (typeof part[key] === 'string') return part[key] as string;
  return '';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map(partText).filter(Boolean).join('\n');
}

/** Every text a backend will read: instructions, items (messages, tool calls and results), tool schemas. */
export function responsesPromptText(body: Obj): string {
  const parts: string[] = [];
  if (typeof body.instructions === 'string') parts.push(body.instructions);
  const input = body.input;
  if (typeof input === 'string') parts.push(input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (!isObj(item)) continue;
      if (item.type === 'function_call') parts.push(`${item.name}(${item.arguments})`);
      else if (item.type === 'function_call_output')
        parts.push(typeof item.output === 'string' ? item.output : contentText(item.output));
      else if (item.type !== 'reasoning') parts.push(contentText(item.content));
    }
  }
  if (Array.isArray(body.tools)) {
    for (const t of body.tools) {
      if (!isObj(t)) continue;
      parts.push(
        `${t.name ?? ''} ${t.description ?? ''} ${t.parameters ? JSON.stringify(t.parameters) : ''}`,
      );
    }
  }
  const format = isObj(body.text) ? body.text.format : undefined;
  if (isObj(format) && isObj(format.schema)) parts.push(JSON.stringify(format.schema));
  return parts.join('\n');
}
