// Anthropic Messages wire format: the types every Anthropic translator shares, usage and stop-reason
// mapping to and from Sluice/OpenAI, the request headers and reading an upstream stream's frames (the
// error envelope is in error.ts). Pure functions only, so translators for other pairs
// (anthropic-messages -> gemini / bedrock) can compose them.
import { GatewayError } from '../../errors.ts';
import { authHeaders, JSON_HEADERS } from '../../providers/request_parts.ts';
import type { ResolvedProvider, StreamEvent, TranslateContext, Usage } from '../../providers/types.ts';
import type { SseFrame } from '../sse.ts';
import { checkedUsage } from '../usage_check.ts';

/** max_tokens sent upstream when an OpenAI client gives none (Anthropic requires it) */
export const DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

export interface AnthropicImageSource {
  type: string;
  media_type?: string;
  data?: string;
  url?: string;
}

/** A content block as it appears in requests and responses (only the fields Sluice reads). */
export interface AnthropicBlock {
  type: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  source?: AnthropicImageSource;
  tool_use_id?: string;
  content?: string | AnthropicBlock[];
  is_error?: boolean;
  thinking?: string;
  cache_control?: unknown;
}

export interface AnthropicMessageParam {
  role: string;
  content: string | AnthropicBlock[];
}

export interface AnthropicTool {
  type?: string;
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  strict?: boolean;
}

export interface AnthropicToolChoice {
  type: 'auto' | 'any' | 'tool' | 'none';
  name?: string;
  disable_parallel_tool_use?: boolean;
}

/** The non-streaming response body (`type: "message"`). */
export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/** One streaming event's `data` (its `type` repeats the SSE `event:` name). */
export interface AnthropicStreamEvent {
  type: string;
  index?: number;
  message?: Partial<AnthropicMessage>;
  content_block?: AnthropicBlock;
  delta?: {
    type?: string;
    text?: string;
    partial_json?: string;
    thinking?: string;
    stop_reason?: string | null;
    stop_sequence?: string | null;
  };
  usage?: AnthropicUsage;
  error?: { type?: string; message?: string };
}

/**
 * Anthropic usage -> Sluice usage. Anthropic's input_tokens excludes cache reads and writes; Sluice
 * (like OpenAI's prompt_tokens) counts every input token and says how many were cached.
 */
export function fromAnthropicUsage(u: AnthropicUsage | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const read = u.cache_read_input_tokens ?? 0;
  const created = u.cache_creation_input_tokens ?? 0;
  const usage: Usage = {
    inputTokens: (u.input_tokens ?? 0) + read + created,
    outputTokens: u.output_tokens ?? 0,
  };
  if (read) usage.cachedInputTokens = read;
  if (created) usage.cacheCreationInputTokens = created;
  return checkedUsage(usage, [u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens]);
}

/** Sluice usage -> Anthropic usage (input_tokens without the cached part, as Anthropic reports it). */
export function toAnthropicUsage(u: Usage): Required<AnthropicUsage> {
  const read = u.cachedInputTokens ?? 0;
  const created = u.cacheCreationInputTokens ?? 0;
  return {
    input_tokens: Math.max(0, u.inputTokens - read - created),
    output_tokens: u.outputTokens,
    cache_creation_input_tokens: created,
    cache_read_input_tokens: read,
  };
}

/** Anthropic stop_reason -> OpenAI finish_reason. */
export function anthropicStopToFinish(stop: string | null | undefined): string | null {
  switch (stop) {
    case null:
    case undefined:
      return null;
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn
      return 'stop';
  }
}

/** OpenAI finish_reason -> Anthropic stop_reason. */
export function finishToAnthropicStop(finish: string | null | undefined): string {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Auth (x-api-key), anthropic-version and JSON headers for a request to an Anthropic backend. */
export function anthropicHeaders(
  provider: ResolvedProvider,
  stream: boolean,
  forward?: Readonly<Record<string, string>>,
): Record<string, string> {
  const betas = allowedBetas(provider, forward?.['anthropic-beta']);
  return {
    ...JSON_HEADERS,
    ...authHeaders(provider), // x-api-key and anthropic-version (the preset's versionHeader)
    ...(stream ? { accept: 'text/event-stream' } : {}),
    ...(betas ? { 'anthropic-beta': betas } : {}),
  };
}

/** The client's anthropic-beta values this provider lets through (config forwardBetas; default all). */
function allowedBetas(provider: ResolvedProvider, sent: string | undefined): string | undefined {
  if (!sent) return undefined;
  const allow = provider.config.forwardBetas;
  const values = sent
    .split(',')
    .map((v) => v.trim())
    .filter((v) => /^[A-Za-z0-9._-]{1,128}$/.test(v) && (!allow || allow.includes(v)));
  return values.length ? values.join(',') : undefined;
}

/** Throws the documented 400 naming the provider and the feature it cannot do. */
export function unsupportedFeature(ctx: TranslateContext, feature: string, param?: string): never {
  const p = ctx.provider;
  throw new GatewayError(
    'SLUICE_ERR_UNSUPPORTED_FEATURE',
    `provider '${p.name}' (${p.preset.displayName}) does not support ${feature}`,
    param === undefined ? {} : { param },
  );
}

/** Text of a system prompt / tool_result content given as a string or an array of text blocks. */
export function blocksText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const b of content as AnthropicBlock[]) if (b?.type === 'text' && b.text) parts.push(b.text);
  return parts.join('\n');
}

/** All prompt text of an Anthropic request (system, text, tool calls and results), for token counting. */
export function anthropicPromptText(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const sys = blocksText(body.system);
  if (sys) parts.push(sys);
  const messages = Array.isArray(body.messages) ? (body.messages as AnthropicMessageParam[]) : [];
  for (const m of messages) {
    if (typeof m?.content === 'string') {
      parts.push(m.content);
      continue;
    }
    if (!Array.isArray(m?.content)) continue;
    for (const b of m.content) {
      if (b?.type === 'text' && b.text) parts.push(b.text);
      else if (b?.type === 'tool_use') parts.push(`${b.name ?? ''} ${JSON.stringify(b.input ?? {})}`);
      else if (b?.type === 'tool_result') parts.push(blocksText(b.content));
    }
  }
  return parts.join('\n');
}

/** Cumulative usage of one Anthropic stream: later events overwrite the counters they carry. */
export class AnthropicUsageTracker {
  readonly #u: AnthropicUsage = {};
  #seen = false;

  add(u: AnthropicUsage | undefined): Usage | undefined {
    if (!u || typeof u !== 'object') return undefined;
    for (const k of [
      'input_tokens',
      'output_tokens',
      'cache_creation_input_tokens',
      'cache_read_input_tokens',
    ] as const) {
      const v = u[k];
      if (typeof v === 'number') {
        this.#u[k] = v;
        this.#seen = true;
      }
    }
    return this.usage;
  }

  get usage(): Usage | undefined {
    return this.#seen ? fromAnthropicUsage(this.#u) : undefined;
  }

  /** The core's cap-time usage carries totals only; put back the cache split this stream reported. */
  withCacheSplit(u: Usage): Usage {
    const known = this.usage;
    return known && known.inputTokens === u.inputTokens ? { ...known, outputTokens: u.outputTokens } : u;
  }
}

/** Parse one Anthropic SSE frame; the JSON `type` wins over the `event:` line, as the SDKs do. */
export function parseAnthropicFrame(f: SseFrame, provider: string): AnthropicStreamEvent {
  try {
    const ev = JSON.parse(f.data) as AnthropicStreamEvent;
    if (!ev || typeof ev !== 'object') throw new Error('not an object');
    ev.type ??= f.event ?? '';
    return ev;
  } catch (err) {
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${provider}' sent a malformed stream event`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Runs a stream translator's frame loop so that frames read before a failing one (an `event: error`)
 * still reach the client: the failure is held back and thrown on the next read. On the last read
 * (`final`) there is no next one, so it is thrown at once.
 */
export class HeldFailure {
  #err: unknown;
  #held = false;

  run(final: boolean, produce: (events: StreamEvent[]) => void): StreamEvent[] {
    if (this.#held) {
      this.#held = false;
      throw this.#err;
    }
    const events: StreamEvent[] = [];
    try {
      produce(events);
    } catch (err) {
      if (final || events.length === 0) throw err;
      this.#err = err;
      this.#held = true;
    }
    return events;
  }
}
