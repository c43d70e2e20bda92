// Output caps for whole (non-streaming) answers. Sluice tells the upstream the grant as max_tokens,
// but some OpenAI-compatible servers ignore it; a stream is cut by the pump (proxy/stream.ts), and a
// whole answer is cut here the same way: each choice's text to the grant, finish_reason "length"
// (stop_reason "max_tokens" for /v1/messages), usage = what was delivered (counted by Sluice).
// Answers within the grant (the normal case) are returned untouched without being parsed.
import { isObj } from '../api/validate.ts';
import type { ClientApi, Usage } from '../providers/types.ts';
import { countTokens, type EncodingName, truncateToTokens } from '../tokens/counter.ts';

export interface AnswerCap {
  /** output tokens each choice may have */
  tokens: number;
  encoding: EncodingName;
}

type Json = Record<string, unknown>;

/**
 * A passed-through answer is whatever the provider sent (any JSON): the walks below read only the
 * objects where the API has objects, and skip anything else (a null choice, a number for a block).
 */
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Cuts `text` to what is left of the budget; returns the kept text and the tokens it used. */
function take(
  text: string,
  left: number,
  encoding: EncodingName,
): { kept: string; used: number; cut: boolean } {
  const used = countTokens(text, encoding);
  if (used <= left) return { kept: text, used, cut: false };
  const kept = truncateToTokens(text, Math.max(0, left), encoding);
  return { kept, used: countTokens(kept, encoding), cut: true };
}

/** One OpenAI chat choice: reasoning, content, then tool calls (a call whose arguments do not fit is dropped). */
function capChatChoice(choice: Json, cap: AnswerCap): { used: number; cut: boolean } {
  const message = isObj(choice.message) ? choice.message : {};
  let left = cap.tokens;
  let cut = false;
  for (const field of ['reasoning_content', 'content'] as const) {
    const text = message[field];
    if (typeof text !== 'string') continue;
    const t = take(text, left, cap.encoding);
    message[field] = t.kept;
    left -= t.used;
    cut ||= t.cut;
  }
  if (Array.isArray(message.tool_calls)) {
    const kept: unknown[] = [];
    for (const call of objects(message.tool_calls)) {
      const fn = isObj(call.function) ? call.function : {};
      const used = countTokens(
        `${fn.name ?? ''}${typeof fn.arguments === 'string' ? fn.arguments : ''}`,
        cap.encoding,
      );
      if (used > left) {
        cut = true;
        break;
      }
      kept.push(call);
      left -= used;
    }
    if (kept.length) message.tool_calls = kept;
    else delete message.tool_calls;
  }
  if (cut) choice.finish_reason = 'length';
  return { used: cap.tokens - left, cut };
}

function capCompletionChoice(choice: Json, cap: AnswerCap): { used: number; cut: boolean } {
  if (typeof choice.text !== 'string') return { used: 0, cut: false };
  const t = take(choice.text, cap.tokens, cap.encoding);
  choice.text = t.kept;
  if (t.cut) choice.finish_reason = 'length';
  return { used: t.used, cut: t.cut };
}

/** Anthropic Messages: text and thinking blocks in order; a tool_use block that does not fit is dropped. */
function capMessage(msg: Json, cap: AnswerCap): { used: number; cut: boolean } {
  let left = cap.tokens;
  let cut = false;
  const kept: Json[] = [];
  for (const block of objects(msg.content)) {
    if (cut) break;
    const field = block.type === 'text' ? 'text' : block.type === 'thinking' ? 'thinking' : undefined;
    if (field && typeof block[field] === 'string') {
      const t = take(block[field] as string, left, cap.encoding);
      block[field] = t.kept;
      left -= t.used;
      cut = t.cut;
      if (t.kept || !t.cut) kept.push(block);
      continue;
    }
    const used = countTokens(JSON.stringify(block.input ?? block), cap.encoding);
    if (used > left) cut = true;
    else {
      kept.push(block);
      left -= used;
    }
  }
  msg.content = kept;
  if (cut) msg.stop_reason = 'max_tokens';
  return { used: cap.tokens - left, cut };
}

/**
 * A Responses API `response`: its output items in order (reasoning and message text cut, a function
 * call that does not fit dropped), then status `incomplete` with reason max_output_tokens, as OpenAI
 * reports a response stopped at its limit.
 */
function capResponse(r: Json, cap: AnswerCap): { used: number; cut: boolean } {
  let left = cap.tokens;
  let cut = false;
  const kept: Json[] = [];
  for (const item of objects(r.output)) {
    if (cut) break;
    if (item.type === 'function_call') {
      const used = countTokens(`${item.name ?? ''}${item.arguments ?? ''}`, cap.encoding);
      if (used > left) cut = true;
      else {
        kept.push(item);
        left -= used;
      }
      continue;
    }
    for (const part of objects(item.content)) {
      const field =
        typeof part.text === 'string' ? 'text' : typeof part.refusal === 'string' ? 'refusal' : undefined;
      if (!field || cut) continue;
      const t = take(part[field] as string, left, cap.encoding);
      part[field] = t.kept;
      left -= t.used;
      cut = t.cut;
    }
    if (cut && item.type === 'message') item.status = 'incomplete';
    kept.push(item);
  }
  r.output = kept;
  if (cut) {
    r.status = 'incomplete';
    r.incomplete_details = { reason: 'max_output_tokens' };
  }
  return { used: cap.tokens - left, cut };
}

/**
 * Output tokens in a whole answer, counted by Sluice: for an upstream that reported no usage (or an
 * impossible one, wire/usage_check.ts), so its output is charged as a stream's is by the pump.
 * The same walk over the answer as the cap, with no limit.
 */
export function answerOutputTokens(body: Buffer | string, api: ClientApi, encoding: EncodingName): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return 0;
  }
  if (!isObj(parsed)) return 0;
  const r = parsed;
  const all: AnswerCap = { tokens: Number.MAX_SAFE_INTEGER, encoding };
  if (api === 'openai-chat' || api === 'openai-completions') {
    let used = 0;
    for (const c of objects(r.choices)) {
      used += (api === 'openai-chat' ? capChatChoice(c, all) : capCompletionChoice(c, all)).used;
    }
    return used;
  }
  if (api === 'anthropic-messages') return capMessage(r, all).used;
  if (api === 'openai-responses') return capResponse(r, all).used;
  return 0;
}

/**
 * The answer cut to the cap, with the usage to report and charge, or undefined when nothing had to be
 * cut (or the API has nothing to cut: embeddings).
 */
export function capWholeAnswer(
  body: Buffer | string,
  usage: Usage | undefined,
  cap: AnswerCap,
  api: ClientApi,
): { body: Buffer; usage: Usage } | undefined {
  // The upstream's own count says whether any choice can be over: n choices of at most cap each.
  if (usage && !usage.estimated && usage.outputTokens <= cap.tokens) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return undefined;
  }
  // not an answer of the API's shape: nothing to cut (Sluice's own count still charges it)
  if (!isObj(parsed)) return undefined;
  let used = 0;
  let cut = false;
  if (api === 'openai-chat' || api === 'openai-completions') {
    const choices = objects(parsed.choices);
    // n choices within cap each by the provider's own count: it honoured max_tokens, and Sluice's
    // count (an estimate for some families) must not second-guess it
    if (usage && !usage.estimated && usage.outputTokens <= cap.tokens * Math.max(1, choices.length))
      return undefined;
    for (const c of choices) {
      const r = api === 'openai-chat' ? capChatChoice(c, cap) : capCompletionChoice(c, cap);
      used += r.used;
      cut ||= r.cut;
    }
    if (!cut) return undefined;
    const input = usage?.inputTokens ?? 0;
    const u = isObj(parsed.usage) ? parsed.usage : {};
    parsed.usage = { ...u, prompt_tokens: input, completion_tokens: used, total_tokens: input + used };
  } else if (api === 'anthropic-messages') {
    const r = capMessage(parsed, cap);
    if (!r.cut) return undefined;
    used = r.used;
    parsed.usage = { ...(isObj(parsed.usage) ? parsed.usage : {}), output_tokens: used };
  } else if (api === 'openai-responses') {
    const r = capResponse(parsed, cap);
    if (!r.cut) return undefined;
    used = r.used;
    const u = isObj(parsed.usage) ? parsed.usage : {};
    const input = typeof u.input_tokens === 'number' ? u.input_tokens : (usage?.inputTokens ?? 0);
    parsed.usage = { ...u, output_tokens: used, total_tokens: input + used };
  } else return undefined;
  return {
    body: Buffer.from(JSON.stringify(parsed)),
    usage: { ...(usage ?? { inputTokens: 0 }), outputTokens: used, estimated: usage?.estimated },
  };
}
