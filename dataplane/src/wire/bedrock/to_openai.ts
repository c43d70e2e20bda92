// Bedrock Converse response -> OpenAI pieces (pure): usage, stop reasons, errors. The same usage and
// stop reasons arrive in ConverseStream's metadata and messageStop events.
import type { UpstreamErrorInfo, Usage } from '../../providers/types.ts';
import { typeForStatus } from '../upstream_json.ts';
import { checkedUsage } from '../usage_check.ts';

export interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export type OutBlock = {
  text?: string;
  toolUse?: { toolUseId: string; name: string; input: unknown };
  reasoningContent?: { reasoningText?: { text?: string } };
};

export interface ConverseResponse {
  output?: { message?: { role?: string; content?: OutBlock[] } };
  stopReason?: string;
  usage?: ConverseUsage;
}

/**
 * Bedrock reports input tokens without the cached ones (like Anthropic); Sluice's Usage follows
 * OpenAI, where prompt tokens include cache reads and writes, so they are added back.
 */
export function converseUsage(u: ConverseUsage | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const read = u.cacheReadInputTokens ?? 0;
  const write = u.cacheWriteInputTokens ?? 0;
  const usage: Usage = {
    inputTokens: (u.inputTokens ?? 0) + read + write,
    outputTokens: u.outputTokens ?? 0,
  };
  if (read) usage.cachedInputTokens = read;
  if (write) usage.cacheCreationInputTokens = write;
  return checkedUsage(usage, [u.inputTokens, u.cacheReadInputTokens, u.cacheWriteInputTokens]);
}

// A Map: the reason is the provider's text, and an object literal would answer "constructor" or
// "__proto__" with Object.prototype's members (a finish_reason the client could not read).
const STOP = new Map<unknown, string>([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  ['max_tokens', 'length'],
  ['model_context_window_exceeded', 'length'],
  ['tool_use', 'tool_calls'],
  ['guardrail_intervened', 'content_filter'],
  ['content_filtered', 'content_filter'],
]);

export function stopReason(r: string | undefined): string {
  return STOP.get(r) ?? 'stop';
}

/**
 * Bedrock errors: {"message": "..."} (some services capitalise it), the exception's name in the
 * x-amzn-errortype header ("ValidationException:http://internal.amazon.com/coral/...") or, from some
 * services, in the body's __type ("com.amazon...#ValidationException"). The name is the code.
 */
export function parseBedrockError(
  status: number,
  body: Buffer,
  errorType?: string | string[],
): UpstreamErrorInfo {
  const header = Array.isArray(errorType) ? errorType[0] : errorType;
  let code = header ? (header.split(':')[0] ?? null) : null;
  try {
    const e = JSON.parse(body.toString('utf8')) as { message?: unknown; Message?: unknown; __type?: unknown };
    if (typeof e.__type === 'string') code = e.__type.split('#').pop() ?? code;
    const message = e.message ?? e.Message;
    if (typeof message === 'string' && message) return { message, type: typeForStatus(status), code };
  } catch {
    // not JSON
  }
  return { message: `HTTP ${status}`, type: typeForStatus(status), code };
}
