// OpenAI chat request -> Bedrock Converse request body (pure; no I/O). The same body serves Converse
// and ConverseStream. What Bedrock enforces and this handles: the system prompt is a separate list,
// roles are only user/assistant and must alternate (consecutive messages of one role are merged, tool
// results become toolResult blocks of a user turn), blank text blocks are rejected, images must be
// bytes (no URLs), and any toolUse/toolResult in the history requires toolConfig.

import { shownValue } from '../../api/validate.ts';
import type { TranslateContext } from '../../providers/types.ts';
import {
  contentParts,
  contentText,
  functionTools,
  invalid,
  maxOutputTokens,
  type OpenAIMessage,
  parseToolArguments,
  portableToolId,
  refuseLostLastTurn,
  rejectUntranslatable,
  stopSequences,
  toolChoice,
  unsupported,
} from '../openai/request.ts';

export type BedrockBlock =
  | { text: string }
  | { image: { format: string; source: { bytes: string } } }
  | { document: { format: string; name: string; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } }
  | {
      toolResult: {
        toolUseId: string;
        content: Array<{ text: string } | { json: unknown }>;
        status?: string;
      };
    };

export interface BedrockMessage {
  role: 'user' | 'assistant';
  content: BedrockBlock[];
}

const IMAGE_FORMATS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

const DOC_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/markdown': 'md',
};

function userBlocks(content: unknown, at: string, ctx: TranslateContext): BedrockBlock[] {
  const blocks = contentParts(content, at, ctx).map((p, i): BedrockBlock | undefined => {
    // Converse refuses a blank text block (OpenAI takes one); whitespace carries nothing
    if (p.kind === 'text') return p.text.trim() ? { text: p.text } : undefined;
    if (p.kind === 'url') unsupported(ctx, 'image URLs (send the image as a base64 data URL)', `${at}[${i}]`);
    if (p.media === 'image') {
      const format = IMAGE_FORMATS[p.mimeType];
      if (!format) unsupported(ctx, `images of type ${p.mimeType}`, `${at}[${i}]`);
      return { image: { format, source: { bytes: p.data } } };
    }
    const format = DOC_FORMATS[p.mimeType];
    if (p.media === 'file' && format)
      return { document: { format, name: `document-${i + 1}`, source: { bytes: p.data } } };
    return unsupported(ctx, `${p.media} input of type ${p.mimeType}`, `${at}[${i}]`);
  });
  return blocks.filter((b) => b !== undefined);
}

/** Bedrock's toolResult content: JSON objects as json blocks, anything else as text. */
function toolResultContent(text: string): Array<{ text: string } | { json: unknown }> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return [{ json: parsed }];
  } catch {
    // plain text result
  }
  return [{ text: text.trim() === '' ? '(empty)' : text }];
}

/** Converse's pattern for a tool name, in toolSpec and ToolUseBlock alike */
const BEDROCK_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Anthropic clients may name a tool with up to 128 characters and OpenAI takes any name in history;
 * renaming would make the model call a function the client does not have, so a name outside
 * Bedrock's pattern is the client's 400 naming where it is.
 */
function checkBedrockToolName(name: string, param: string, ctx: TranslateContext): void {
  if (!BEDROCK_TOOL_NAME.test(name))
    unsupported(
      ctx,
      `tool names other than 1 to 64 of a-z, A-Z, 0-9, '_' and '-' ('${shownValue(name)}')`,
      param,
    );
}

export function toBedrockMessages(
  messages: OpenAIMessage[],
  ctx: TranslateContext,
): { messages: BedrockMessage[]; system: Array<{ text: string }>; usesTools: boolean } {
  const out: BedrockMessage[] = [];
  const system: Array<{ text: string }> = [];
  let usesTools = false;
  const add = (role: BedrockMessage['role'], blocks: BedrockBlock[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = contentText(m.content, `${at}.content`, ctx);
        if (text.trim()) system.push({ text });
        break;
      }
      case 'user':
        add('user', userBlocks(m.content, `${at}.content`, ctx));
        break;
      case 'assistant': {
        const text = contentText(m.content, `${at}.content`, ctx);
        const blocks: BedrockBlock[] = text.trim() ? [{ text }] : [];
        (m.tool_calls ?? []).forEach((c, j) => {
          const name = c.function?.name;
          if (!name || !c.id)
            invalid(`${at}.tool_calls[${j}]`, 'a tool call needs an id and a function name');
          checkBedrockToolName(name, `${at}.tool_calls[${j}].function.name`, ctx);
          usesTools = true;
          const input = parseToolArguments(
            c.function?.arguments,
            `${at}.tool_calls[${j}].function.arguments`,
          );
          blocks.push({ toolUse: { toolUseId: portableToolId(c.id), name, input } });
        });
        add('assistant', blocks);
        break;
      }
      case 'tool': {
        if (!m.tool_call_id) invalid(`${at}.tool_call_id`, `'${at}.tool_call_id' is required`);
        usesTools = true;
        const text = contentText(m.content, `${at}.content`, ctx);
        const toolUseId = portableToolId(m.tool_call_id);
        add('user', [{ toolResult: { toolUseId, content: toolResultContent(text) } }]);
        break;
      }
      default:
        unsupported(ctx, `messages with role '${m.role}'`, `${at}.role`);
    }
  });
  if (out.length === 0) invalid('messages', 'at least one user message is required besides system messages');
  refuseLostLastTurn(messages, out.at(-1)?.role, 'Bedrock');
  // Converse refuses a conversation that opens with the assistant's turn (OpenAI and Anthropic take it)
  if (out[0]?.role === 'assistant')
    unsupported(ctx, 'a conversation that starts with an assistant message', 'messages');
  return { messages: out, system, usesTools };
}

function toolConfig(body: Record<string, unknown>, usesTools: boolean, ctx: TranslateContext) {
  const tools = functionTools(body.tools, ctx);
  const choice = toolChoice(body.tool_choice);
  if (tools.length === 0) {
    if (usesTools) invalid('tools', 'the conversation has tool calls, so Bedrock needs the tools defined');
    return undefined;
  }
  // Bedrock has no "none": without tool calls in the history the tools are simply not offered.
  if (choice?.mode === 'none' && !usesTools) return undefined;
  const cfg: Record<string, unknown> = {
    tools: tools.map((t, i) => {
      checkBedrockToolName(t.name, `tools[${i}].function.name`, ctx);
      return {
        toolSpec: {
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          inputSchema: { json: t.parameters ?? { type: 'object', properties: {} } },
        },
      };
    }),
  };
  if (choice?.mode === 'auto') cfg.toolChoice = { auto: {} };
  else if (choice?.mode === 'required') cfg.toolChoice = { any: {} };
  else if (choice?.mode === 'function') cfg.toolChoice = { tool: { name: choice.name } };
  return cfg;
}

/** The Converse request body for an OpenAI chat request. */
export function toConverseRequest(
  body: Record<string, unknown>,
  ctx: TranslateContext,
): Record<string, unknown> {
  rejectUntranslatable(body, ctx);
  if (typeof body.n === 'number' && body.n > 1) unsupported(ctx, 'n > 1', 'n');
  // Converse's inferenceConfig has no penalties (a temperature above 1 is Bedrock's own clear 400)
  for (const k of ['presence_penalty', 'frequency_penalty']) {
    if (typeof body[k] === 'number' && body[k] !== 0) unsupported(ctx, k, k);
  }
  const rf = body.response_format as { type?: unknown } | undefined;
  if (rf && rf.type !== 'text')
    unsupported(ctx, `response_format '${shownValue(rf.type)}'`, 'response_format');
  const { messages, system, usesTools } = toBedrockMessages(body.messages as OpenAIMessage[], ctx);
  const req: Record<string, unknown> = { messages };
  if (system.length > 0) req.system = system;
  const inference: Record<string, unknown> = {};
  const max = maxOutputTokens(body);
  if (max !== undefined) inference.maxTokens = max;
  if (typeof body.temperature === 'number') inference.temperature = body.temperature;
  if (typeof body.top_p === 'number') inference.topP = body.top_p;
  const stop = stopSequences(body.stop);
  if (stop?.length) inference.stopSequences = stop;
  if (Object.keys(inference).length > 0) req.inferenceConfig = inference;
  const tc = toolConfig(body, usesTools, ctx);
  if (tc) req.toolConfig = tc;
  return req;
}
