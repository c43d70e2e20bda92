// OpenAI chat completion chunks as an OpenAI-compatible server streams them, for suites that script
// an upstream's exact stream (tool call fragments, reasoning, usage) and for translator unit tests.
import type { ScriptedUpstream } from '../fakes/scripted_upstream.ts';

type Obj = Record<string, unknown>;

const BASE = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'm' };

/** One chunk with one choice. */
export function chatChunk(delta: Obj, finish: string | null = null): Obj {
  return { ...BASE, choices: [{ index: 0, delta, finish_reason: finish }] };
}

/** The usage chunk (empty choices) that ends a stream when usage was asked for. */
export function usageChunk(prompt: number, completion: number): Obj {
  return {
    ...BASE,
    choices: [],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

/** A fragment of tool call `index`: its start (id, name) when `id` is given, else more arguments. */
export function toolCallChunk(index: number, args: string, id?: string, name = 'get_weather'): Obj {
  const call = id
    ? { index, id, type: 'function', function: { name, arguments: args } }
    : { index, function: { arguments: args } };
  return chatChunk({ tool_calls: [call] });
}

/**
 * Two parallel calls (tool_0 with call_A, tool_1 with call_B) whose starts and arguments interleave by
 * index, the shape in the reports; each call's whole arguments are {"target":"A_ONLY"} / "B_ONLY".
 */
export const INTERLEAVED_TARGET_CALLS: Obj[] = [
  chatChunk({ role: 'assistant' }),
  toolCallChunk(0, '', 'call_A', 'tool_0'),
  toolCallChunk(1, '', 'call_B', 'tool_1'),
  toolCallChunk(0, '{"target":'),
  toolCallChunk(1, '{"target":'),
  toolCallChunk(0, '"A_ONLY"}'),
  toolCallChunk(1, '"B_ONLY"}'),
  chatChunk({}, 'tool_calls'),
];

/** The SSE body of a stream of chunks, ended by [DONE]. */
export function chatSse(frames: unknown[]): string {
  return `${frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** The scripted upstream answers every request with this stream. */
export function serveChatStream(up: ScriptedUpstream, frames: unknown[]): void {
  const body = Buffer.from(chatSse(frames));
  up.setScript(() => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, reads: [body] }));
}

/** Two parallel get_weather calls (Paris, Rome) whose starts and arguments interleave by index. */
export const INTERLEAVED_WEATHER_CALLS: Obj[] = [
  chatChunk({ role: 'assistant', content: '' }),
  toolCallChunk(0, '', 'call_paris'),
  toolCallChunk(1, '', 'call_rome'),
  toolCallChunk(0, '{"city":'),
  toolCallChunk(1, '{"city":'),
  toolCallChunk(0, '"Paris"}'),
  toolCallChunk(1, '"Rome"}'),
  chatChunk({}, 'tool_calls'),
  usageChunk(20, 12),
];
