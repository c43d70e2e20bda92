// Gemini GenerateContentResponse -> OpenAI pieces (pure): usage, finish reasons, tool calls, errors.
import { randomBytes } from 'node:crypto';
import type { UpstreamErrorInfo, Usage } from '../../providers/types.ts';
import type { ChoiceOut, ToolCallOut } from '../openai/response.ts';
import { typeForStatus } from '../upstream_json.ts';
import { checkedUsage } from '../usage_check.ts';
import { encodeToolCallId, type GeminiPart } from './from_openai.ts';

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

export interface GeminiCandidate {
  index?: number;
  content?: { role?: string; parts?: GeminiPart[] };
  finishReason?: string;
}

export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  promptFeedback?: { blockReason?: string };
  error?: { code?: number; message?: string; status?: string };
}

/**
 * Gemini's counts -> Sluice's (OpenAI semantics): input includes cached and tool-use prompt tokens,
 * output includes thinking tokens (they are billed as output), reasoning is the thinking share.
 */
export function geminiUsage(u: GeminiUsageMetadata | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const thoughts = u.thoughtsTokenCount ?? 0;
  const usage: Usage = {
    inputTokens: (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0),
    outputTokens: (u.candidatesTokenCount ?? 0) + thoughts,
  };
  if (u.cachedContentTokenCount) usage.cachedInputTokens = u.cachedContentTokenCount;
  if (thoughts) usage.reasoningTokens = thoughts;
  return checkedUsage(usage, [
    u.promptTokenCount,
    u.toolUsePromptTokenCount,
    u.candidatesTokenCount,
    u.thoughtsTokenCount,
  ]);
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

export function finishReason(reason: string | undefined, hasToolCalls: boolean): string {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Gemini does not always id its function calls; OpenAI clients need one to answer the call. */
export function toolCallId(part: GeminiPart): string {
  const base = part.functionCall?.id ?? `call_${randomBytes(12).toString('base64url')}`;
  return encodeToolCallId(base, part.thoughtSignature);
}

export function toolCallOf(part: GeminiPart): ToolCallOut | undefined {
  const fc = part.functionCall;
  if (!fc) return undefined;
  return { id: toolCallId(part), name: fc.name, arguments: JSON.stringify(fc.args ?? {}) };
}

/** One candidate as an OpenAI choice. Thought summaries become reasoning_content, not content. */
export function choiceOf(c: GeminiCandidate, i: number): ChoiceOut {
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCallOut[] = [];
  for (const p of c.content?.parts ?? []) {
    const call = toolCallOf(p);
    if (call) toolCalls.push(call);
    else if (typeof p.text === 'string') {
      if (p.thought) reasoning += p.text;
      else text += p.text;
    }
  }
  return {
    index: c.index ?? i,
    text,
    reasoning,
    toolCalls,
    finishReason: finishReason(c.finishReason, toolCalls.length > 0),
  };
}

/** The choices of a whole response; a prompt Gemini blocked has none and becomes one filtered choice. */
export function choicesOf(r: GeminiResponse): ChoiceOut[] {
  const candidates = r.candidates ?? [];
  if (candidates.length === 0 && r.promptFeedback?.blockReason) {
    return [{ index: 0, text: '', reasoning: '', toolCalls: [], finishReason: 'content_filter' }];
  }
  return candidates.map(choiceOf);
}

/** Gemini errors are {"error": {"code", "message", "status"}}; `status` is the Google RPC code name. */
export function parseGeminiError(status: number, body: Buffer): UpstreamErrorInfo {
  try {
    const e = JSON.parse(body.toString('utf8')) as GeminiResponse | GeminiResponse[];
    const err = Array.isArray(e) ? e[0]?.error : e.error;
    if (err?.message) return { message: err.message, type: typeForStatus(status), code: err.status ?? null };
  } catch {
    // not JSON: fall back to the status line
  }
  return { message: `HTTP ${status}`, type: typeForStatus(status) };
}
