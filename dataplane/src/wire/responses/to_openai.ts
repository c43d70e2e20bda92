// A Responses API request as an OpenAI chat completions request: the one conversion every non-native
// backend goes through (the backend's own openai-chat translator takes it from there, so Anthropic,
// Gemini and Bedrock need no Responses-specific code). The body was validated by
// api/responses_validate.ts; this only maps shapes.
//   instructions            -> a leading system message
//   input string / messages -> user / assistant / system messages (input_text, output_text, images)
//   function_call items     -> an assistant message with tool_calls (consecutive calls merged)
//   function_call_output    -> a tool message
//   reasoning items         -> dropped (chat backends cannot take them back)
//   tools / tool_choice / text.format / max_output_tokens / reasoning.effort -> their chat equivalents

import { invalid, shownValue } from '../../api/validate.ts';

type Obj = Record<string, unknown>;

interface ChatMessage {
  role: string;
  content: string | unknown[] | null;
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

function chatPart(part: Obj): unknown {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: part.text };
    case 'refusal':
      return { type: 'text', text: part.refusal };
    case 'input_image':
      return {
        type: 'image_url',
        image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) },
      };
    case 'input_file':
      return {
        type: 'file',
        file: { file_data: part.file_data, ...(part.filename ? { filename: part.filename } : {}) },
      };
    default:
      return { type: 'text', text: '' };
  }
}

function chatContent(content: unknown): string | unknown[] {
  if (typeof content === 'string') return content;
  const parts = (content as Obj[]).map(chatPart);
  // text-only content as one string: every chat backend takes that, not every one takes parts
  if (parts.every((p) => (p as Obj).type === 'text')) return parts.map((p) => (p as Obj).text).join('\n');
  return parts;
}

function toolOutput(output: unknown): string {
  if (typeof output === 'string') return output;
  return (output as Obj[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join('\n');
}

/**
 * The chat messages for a Responses `input` (string or items), after `instructions` (`origins`:
 * filled with the client path each chat message came from: `instructions`, `input`, `input[i]`).
 */
export function chatMessages(input: unknown, instructions: unknown, origins?: string[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (typeof instructions === 'string' && instructions !== '') {
    messages.push({ role: 'system', content: instructions });
    origins?.push('instructions');
  }
  if (typeof input === 'string') {
    messages.push({ role: 'user', content: input });
    origins?.push('input');
    return messages;
  }
  // Outputs answer earlier calls and every call is answered before the conversation goes on, as
  // OpenAI requires; checked here, after previous_response_id brought the earlier turns in, since a
  // call may be in a stored response. Anthropic and Bedrock would refuse a broken pair in their words.
  const called = new Set<string>();
  const pending = new Set<string>();
  const unanswered = (at: string) => {
    const [first] = pending;
    if (first !== undefined) invalid(at, `No tool output found for function call ${shownValue(first)}.`);
  };
  (input as Obj[]).forEach((raw, i) => {
    const type = raw.type ?? 'message';
    if (type === 'function_call') {
      called.add(raw.call_id as string);
      pending.add(raw.call_id as string);
    } else if (type === 'function_call_output') {
      if (!called.has(raw.call_id as string))
        invalid(
          `input[${i}].call_id`,
          `No tool call found for function call output with call_id ${shownValue(raw.call_id)}.`,
        );
      pending.delete(raw.call_id as string);
    } else if (type === 'message') unanswered(`input[${i}]`);
  });
  unanswered(`input[${(input as Obj[]).length - 1}]`);
  (input as Obj[]).forEach((raw, i) => {
    const type = raw.type ?? 'message';
    if (type === 'message') {
      const role = raw.role === 'developer' ? 'system' : (raw.role as string);
      messages.push({ role, content: chatContent(raw.content) });
    } else if (type === 'function_call') {
      const call = {
        id: raw.call_id as string,
        type: 'function' as const,
        function: { name: raw.name as string, arguments: raw.arguments as string },
      };
      const last = messages[messages.length - 1];
      // calls right after an assistant turn belong to it (one chat message carries text and calls),
      // appended in place: a copy per call made k consecutive calls cost k^2
      if (last?.role !== 'assistant') messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      else if (last.tool_calls) last.tool_calls.push(call);
      else last.tool_calls = [call];
    } else if (type === 'function_call_output') {
      messages.push({ role: 'tool', tool_call_id: raw.call_id as string, content: toolOutput(raw.output) });
    }
    // reasoning items: nothing a chat backend can take back
    while (origins && origins.length < messages.length) origins.push(`input[${i}]`);
  });
  return messages;
}

function chatTools(tools: unknown): unknown[] | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  return (tools as Obj[]).map((t) => ({
    type: 'function',
    function: {
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      parameters: t.parameters ?? { type: 'object', properties: {} },
      ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}),
    },
  }));
}

function chatToolChoice(tc: unknown): unknown {
  if (tc === undefined || tc === null || typeof tc === 'string') return tc ?? undefined;
  return { type: 'function', function: { name: (tc as Obj).name } };
}

function chatResponseFormat(text: unknown): unknown {
  const format = (text as Obj | undefined)?.format as Obj | undefined;
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name,
      schema: format.schema,
      ...(typeof format.strict === 'boolean' ? { strict: format.strict } : {}),
      ...(format.description ? { description: format.description } : {}),
    },
  };
}

/** The chat completions body for a Responses body (model left to the backend translator). */
export function responsesToChat(body: Obj, stream: boolean, origins?: string[]): Obj {
  const out: Obj = { model: body.model, messages: chatMessages(body.input, body.instructions, origins) };
  const tools = chatTools(body.tools);
  if (tools) {
    out.tools = tools;
    const tc = chatToolChoice(body.tool_choice);
    if (tc !== undefined) out.tool_choice = tc;
    if (typeof body.parallel_tool_calls === 'boolean') out.parallel_tool_calls = body.parallel_tool_calls;
  }
  const rf = chatResponseFormat(body.text);
  if (rf) out.response_format = rf;
  // max_tokens, which every chat backend knows; presets that want max_completion_tokens get it from
  // the backend translator's quirks
  if (typeof body.max_output_tokens === 'number') out.max_tokens = body.max_output_tokens;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (typeof body.user === 'string') out.user = body.user;
  const effort = (body.reasoning as Obj | undefined)?.effort;
  if (typeof effort === 'string') out.reasoning_effort = effort;
  if (stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}
