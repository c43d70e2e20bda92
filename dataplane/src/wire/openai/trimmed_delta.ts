// A passed-through OpenAI chunk that a token cap cuts is written again with only the text the cap
// allows. The chunk's text is its content, then its reasoning_content, then its tool calls' argument
// pieces (the order openai_to_openai.ts counts them in), so the allowed prefix is shared out in that
// order and each piece stays in its own field: a cut inside reasoning or tool arguments used to come
// back as `content`, showing the client the model's reasoning or raw JSON as the answer. The role the
// chunk announced is kept (the openai SDK's stream helper fails on a choice without one). Runs once
// per capped stream, so it parses the chunk again rather than keeping anything per chunk.
import { SseParser } from '../sse.ts';

type Obj = Record<string, unknown>;

interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

export interface TrimmedDelta {
  index: number;
  delta: Obj;
}

/** The cut chunk's choice with `allowed` (a prefix of its text) in the fields it came in, or undefined. */
export function trimmedDelta(rawFrame: string, allowed: string): TrimmedDelta | undefined {
  const sse = new SseParser();
  const frames = [...sse.push(rawFrame), ...sse.end()];
  let chunk: { choices?: Array<{ index?: number; delta?: Obj }> };
  try {
    chunk = JSON.parse(frames[0]?.data ?? '') as typeof chunk;
  } catch {
    return undefined;
  }
  const choice = chunk.choices?.[0];
  const d = choice?.delta;
  if (!choice || !d) return undefined;
  let rest = allowed;
  const take = (s: unknown): string => {
    if (typeof s !== 'string' || rest === '') return '';
    const piece = rest.slice(0, s.length);
    rest = rest.slice(piece.length);
    return piece;
  };
  const delta: Obj = {};
  if (d.role !== undefined) delta.role = d.role;
  const content = take(d.content);
  if (content) delta.content = content;
  const reasoning = take(d.reasoning_content);
  if (reasoning) delta.reasoning_content = reasoning;
  const calls: ToolCallDelta[] = [];
  for (const c of (d.tool_calls as ToolCallDelta[] | undefined) ?? []) {
    // a call's start (id, name) goes with its first allowed piece; a call with none is not sent
    const args = take(c.function?.arguments);
    if (args) calls.push({ ...c, function: { ...c.function, arguments: args } });
  }
  if (calls.length > 0) delta.tool_calls = calls;
  return { index: choice.index ?? 0, delta };
}
