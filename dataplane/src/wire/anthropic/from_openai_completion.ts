// OpenAI chat format -> Anthropic Messages format: the response, for Anthropic clients served by an
// OpenAI-compatible backend (the request direction is from_openai.ts).
import { GatewayError } from '../../errors.ts';
import type { Usage } from '../../providers/types.ts';
import { fromOpenAIUsage, type OpenAIUsage } from '../openai/usage.ts';
import {
  type AnthropicBlock,
  type AnthropicMessage,
  finishToAnthropicStop,
  toAnthropicUsage,
} from './format.ts';

export interface OpenAICompletion {
  id?: string;
  model?: string;
  choices?: Array<{
    message?: {
      content?: string | null;
      refusal?: string | null;
      tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: OpenAIUsage | null;
}

/** Anthropic message ids look like `msg_...`; keep the upstream id recognisable inside it. */
export function anthropicMessageId(upstreamId: string | undefined, fallback: string): string {
  const id = upstreamId ?? fallback;
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

export interface CompletionToAnthropicOptions {
  model: string;
  fallbackId: string;
  provider: string;
  /** usage to report (the upstream's, or Sluice's count when the upstream gave none) */
  usage: Usage;
}

/** Sluice usage of an OpenAI completion, if the upstream reported one. */
export function openaiCompletionUsage(c: OpenAICompletion): Usage | undefined {
  return fromOpenAIUsage(c.usage);
}

/** An OpenAI chat.completion -> an Anthropic message. Tool arguments that are not JSON objects are an upstream error. */
export function openaiCompletionToAnthropic(
  c: OpenAICompletion,
  o: CompletionToAnthropicOptions,
): AnthropicMessage {
  const provider = o.provider;
  const choice = c.choices?.[0];
  const msg = choice?.message ?? {};
  const content: AnthropicBlock[] = [];
  if (msg.content) content.push({ type: 'text', text: msg.content });
  if (msg.refusal) content.push({ type: 'text', text: msg.refusal });
  for (const call of msg.tool_calls ?? []) {
    let input: unknown;
    try {
      input = JSON.parse(call.function?.arguments || '{}');
    } catch {
      input = undefined;
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${provider}' returned tool call arguments that are not a JSON object`,
      );
    }
    content.push({
      type: 'tool_use',
      id: call.id ?? `toolu_${content.length}`,
      name: call.function?.name ?? '',
      input,
    });
  }
  return {
    id: anthropicMessageId(c.id, o.fallbackId),
    type: 'message',
    role: 'assistant',
    model: o.model,
    content,
    stop_reason: msg.refusal ? 'refusal' : finishToAnthropicStop(choice?.finish_reason),
    stop_sequence: null,
    usage: toAnthropicUsage(o.usage),
  };
}
