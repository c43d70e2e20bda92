// OpenAI chat format -> Anthropic Messages format: the request, for OpenAI clients calling an Anthropic
// backend (the response direction is from_openai_completion.ts). Pure functions: everything a backend
// cannot express is reported through `unsupported`, never dropped.

import { shownValue } from '../../api/validate.ts';
import { invalid, parseDataUrl, portableToolId, refuseLostLastTurn } from '../openai/request.ts';
import type { AnthropicBlock, AnthropicMessageParam, AnthropicTool, AnthropicToolChoice } from './format.ts';

export interface ConvertOptions {
  /** model name for the converted request */
  model: string;
  /** throws the documented 400 naming the provider and the feature */
  unsupported: (feature: string, param?: string) => never;
}

export interface ToAnthropicOptions extends ConvertOptions {
  /** max_tokens when the client gave none (Anthropic requires it) */
  defaultMaxTokens: number;
  /** filled with the stop sequences Anthropic refuses (whitespace only), for Sluice to enforce */
  enforcedStops?: string[];
}

/** OpenAI's own bound on `stop`; Sluice enforces at most this many sequences itself. */
const MAX_ENFORCED_STOPS = 4;

type Obj = Record<string, unknown>;

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

function imageBlock(url: string, path: string, o: ConvertOptions): AnthropicBlock {
  const data = parseDataUrl(url);
  if (data) {
    if (!IMAGE_TYPES.has(data.mimeType)) o.unsupported(`images of type ${data.mimeType}`, path);
    return { type: 'image', source: { type: 'base64', media_type: data.mimeType, data: data.data } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  return invalid(path, `'${path}' must be an http(s) URL or a base64 data URL`);
}

/**
 * Anthropic refuses a text block that is empty or only whitespace (OpenAI takes one, and its clients
 * send content "" beside tool_calls); such text carries nothing, so it is left out.
 */
const blank = (text: string) => text.trim() === '';

function userBlocks(content: unknown, path: string, o: ConvertOptions): AnthropicBlock[] {
  if (typeof content === 'string') return blank(content) ? [] : [{ type: 'text', text: content }];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content)) return invalid(path, `'${path}' must be a string or an array`);
  const blocks: AnthropicBlock[] = [];
  content.forEach((raw, j) => {
    const part = (raw ?? {}) as Obj;
    const p = `${path}[${j}]`;
    switch (part.type) {
      case 'text':
      case 'refusal': {
        // each part type's own field, as a string only: String() of a stray object may throw
        const text = part.type === 'text' ? part.text : part.refusal;
        if (typeof text === 'string' && !blank(text)) blocks.push({ type: 'text', text });
        break;
      }
      case 'image_url': {
        const iu = part.image_url as Obj | string | undefined;
        const url = typeof iu === 'string' ? iu : iu?.url;
        if (typeof url !== 'string') invalid(`${p}.image_url.url`, `'${p}.image_url.url' is required`);
        blocks.push(imageBlock(url, `${p}.image_url.url`, o));
        break;
      }
      case 'file': {
        const file = (part.file ?? {}) as Obj;
        const data = typeof file.file_data === 'string' ? parseDataUrl(file.file_data) : undefined;
        if (!data) o.unsupported('file parts other than base64 PDF data (file_id references)', p);
        if (data.mimeType !== 'application/pdf') o.unsupported(`files of type ${data.mimeType}`, p);
        blocks.push({
          type: 'document',
          source: { type: 'base64', media_type: data.mimeType, data: data.data },
        });
        break;
      }
      case 'input_audio':
        o.unsupported('audio input', p);
        break;
      default:
        invalid(`${p}.type`, `'${p}.type' ${JSON.stringify(part.type)} is not a known content part type`);
    }
  });
  return blocks;
}

function toolUseBlocks(calls: unknown, path: string): AnthropicBlock[] {
  if (calls === undefined || calls === null) return [];
  if (!Array.isArray(calls)) return invalid(path, `'${path}' must be an array`);
  return calls.map((raw, j) => {
    const call = (raw ?? {}) as Obj;
    const fn = (call.function ?? {}) as Obj;
    const p = `${path}[${j}]`;
    if (call.type !== undefined && call.type !== 'function')
      return invalid(`${p}.type`, `'${p}.type' must be 'function'`);
    if (typeof call.id !== 'string' || typeof fn.name !== 'string') {
      return invalid(p, `'${p}' needs an id and a function name`);
    }
    let input: unknown = {};
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    if (args.trim() !== '') {
      try {
        input = JSON.parse(args);
      } catch {
        return invalid(`${p}.function.arguments`, `'${p}.function.arguments' is not valid JSON`);
      }
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      return invalid(`${p}.function.arguments`, `'${p}.function.arguments' must be a JSON object`);
    }
    return { type: 'tool_use', id: portableToolId(call.id), name: fn.name, input };
  });
}

function toolResultContent(content: unknown, path: string): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, j) => {
        const p = (part ?? {}) as Obj;
        if (p.type !== 'text') invalid(`${path}[${j}]`, `'${path}[${j}]': tool messages may only hold text`);
        return typeof p.text === 'string' ? p.text : '';
      })
      .join('');
  }
  return '';
}

/** OpenAI messages -> Anthropic system + alternating messages (consecutive same-role turns merged). */
export function toAnthropicMessages(
  messages: unknown[],
  o: ConvertOptions,
): { system: AnthropicBlock[]; messages: AnthropicMessageParam[] } {
  const system: AnthropicBlock[] = [];
  const out: Array<{ role: string; content: AnthropicBlock[] }> = [];
  // the tool results at the start of the last turn, counted: finding their end by a search per result
  // made a turn of k results cost k^2 (32,000 results, a 4 MB body, took a second)
  let leadingResults = 0;
  const append = (role: string, blocks: AnthropicBlock[]) => {
    if (blocks.length === 0) return;
    const last = out.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else {
      out.push({ role, content: blocks });
      leadingResults = 0;
    }
  };
  messages.forEach((raw, i) => {
    const m = (raw ?? {}) as Obj;
    const path = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        for (const b of userBlocks(m.content, `${path}.content`, o)) {
          if (b.type !== 'text') o.unsupported('non-text system content', `${path}.content`);
          system.push(b);
        }
        break;
      case 'user':
        append('user', userBlocks(m.content, `${path}.content`, o));
        break;
      case 'assistant':
        append('assistant', [
          ...userBlocks(m.content, `${path}.content`, o).filter((b) => b.type === 'text'),
          ...toolUseBlocks(m.tool_calls, `${path}.tool_calls`),
        ]);
        if (m.function_call !== undefined && m.function_call !== null) {
          o.unsupported('the deprecated function_call field (use tool_calls)', `${path}.function_call`);
        }
        break;
      case 'tool': {
        if (typeof m.tool_call_id !== 'string')
          invalid(`${path}.tool_call_id`, `'${path}.tool_call_id' is required`);
        const text = toolResultContent(m.content, `${path}.content`);
        const block: AnthropicBlock = { type: 'tool_result', tool_use_id: portableToolId(m.tool_call_id) };
        if (!blank(text)) block.content = text;
        // tool results travel in a user turn and must come before any text in that turn
        const last = out.at(-1);
        if (last?.role !== 'user') {
          out.push({ role: 'user', content: [block] });
          leadingResults = 1;
        } else {
          if (leadingResults === last.content.length) last.content.push(block);
          else last.content.splice(leadingResults, 0, block);
          leadingResults++;
        }
        break;
      }
      default:
        o.unsupported(`messages with role '${shownValue(m.role)}'`, `${path}.role`);
    }
  });
  // Anthropic refuses `messages: []`; Gemini's and Bedrock's translators answer the same 400
  if (out.length === 0)
    invalid('messages', 'at least one user or assistant message is required besides system messages');
  refuseLostLastTurn(messages, out.at(-1)?.role, 'Anthropic');
  trimPrefill(out.at(-1) as { role: string; content: AnthropicBlock[] });
  return { system, messages: out };
}

/**
 * A final assistant message is a prefill to Anthropic, which refuses one ending in whitespace; to an
 * OpenAI client it is history, where trailing whitespace means nothing. Its last text block is sent
 * without it (never emptied: blank text was left out above).
 */
function trimPrefill(last: { role: string; content: AnthropicBlock[] }): void {
  const b = last.content.at(-1);
  if (last.role === 'assistant' && b?.type === 'text' && typeof b.text === 'string')
    b.text = b.text.trimEnd();
}

function toAnthropicTools(tools: unknown, o: ConvertOptions): AnthropicTool[] {
  if (!Array.isArray(tools)) return invalid('tools', "'tools' must be an array");
  return tools.map((raw, i) => {
    const t = (raw ?? {}) as Obj;
    if (t.type !== 'function') o.unsupported(`tools of type '${shownValue(t.type)}'`, `tools[${i}].type`);
    const fn = (t.function ?? {}) as Obj;
    if (typeof fn.name !== 'string' || fn.name === '')
      invalid(`tools[${i}].function.name`, `'tools[${i}].function.name' is required`);
    const tool: AnthropicTool = {
      name: fn.name,
      input_schema: (fn.parameters as Obj | undefined) ?? { type: 'object', properties: {} },
    };
    if (typeof fn.description === 'string') tool.description = fn.description;
    if (fn.strict === true) tool.strict = true;
    return tool;
  });
}

function toAnthropicToolChoice(choice: unknown, parallel: unknown): AnthropicToolChoice | undefined {
  let out: AnthropicToolChoice | undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice && typeof choice === 'object') {
    const name = ((choice as Obj).function as Obj | undefined)?.name;
    if (typeof name !== 'string') invalid('tool_choice', "'tool_choice.function.name' is required");
    out = { type: 'tool', name };
  } else if (choice !== undefined && choice !== null) {
    invalid('tool_choice', "'tool_choice' must be none, auto, required or a function choice");
  }
  if (parallel === false) {
    out ??= { type: 'auto' };
    out.disable_parallel_tool_use = true;
  }
  return out;
}

const EFFORTS = new Set(['low', 'medium', 'high']);

/** Reject OpenAI parameters Anthropic has no equivalent for (only when they ask for something). */
function checkUnmappable(body: Obj, o: ConvertOptions): void {
  if (typeof body.n === 'number' && body.n > 1) o.unsupported('n > 1 (several choices)', 'n');
  if (body.logprobs === true || body.top_logprobs !== undefined) o.unsupported('logprobs', 'logprobs');
  if (body.logit_bias && Object.keys(body.logit_bias as Obj).length > 0)
    o.unsupported('logit_bias', 'logit_bias');
  for (const k of ['presence_penalty', 'frequency_penalty']) {
    if (typeof body[k] === 'number' && body[k] !== 0) o.unsupported(k, k);
  }
  for (const k of ['audio', 'prediction', 'web_search_options', 'functions', 'function_call']) {
    if (body[k] !== undefined && body[k] !== null) o.unsupported(k, k);
  }
  const mod = body.modalities;
  if (Array.isArray(mod) && mod.some((m) => m !== 'text'))
    o.unsupported('output modalities other than text', 'modalities');
  if (typeof body.temperature === 'number' && body.temperature > 1) {
    o.unsupported('temperature above 1 (Anthropic accepts 0 to 1)', 'temperature');
  }
}

/** An OpenAI chat completions request -> an Anthropic Messages request. */
export function openaiChatToAnthropic(body: Obj, o: ToAnthropicOptions): Obj {
  checkUnmappable(body, o);
  const { system, messages } = toAnthropicMessages(body.messages as unknown[], o);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? o.defaultMaxTokens;
  const out: Obj = { model: o.model, max_tokens: maxTokens, messages };
  if (system.length > 0) out.system = system;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (body.stop !== undefined && body.stop !== null) {
    const all = (Array.isArray(body.stop) ? body.stop : [body.stop]).filter(
      (s): s is string => typeof s === 'string' && s !== '',
    );
    // Anthropic refuses a whitespace-only sequence ("\n" is a common one): Sluice cuts the answer there
    const stops = all.filter((s) => s.trim() !== '');
    const enforced = all.filter((s) => s.trim() === '');
    if (enforced.length > MAX_ENFORCED_STOPS)
      invalid(
        'stop',
        `'stop' holds more than ${MAX_ENFORCED_STOPS} whitespace-only sequences (Sluice enforces those itself for Anthropic, which refuses them)`,
      );
    o.enforcedStops?.push(...enforced);
    if (stops.length) out.stop_sequences = stops;
  }
  if (body.stream === true) out.stream = true;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools) {
    out.tools = toAnthropicTools(body.tools, o);
    const choice = toAnthropicToolChoice(body.tool_choice, body.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  const outputConfig: Obj = {};
  const rf = body.response_format as Obj | undefined;
  if (rf && rf.type === 'json_schema') {
    const schema = (rf.json_schema as Obj | undefined)?.schema;
    if (!schema || typeof schema !== 'object')
      invalid('response_format.json_schema.schema', "'response_format.json_schema.schema' is required");
    // Anthropic's structured outputs (output_config.format) constrain the text answer to the schema.
    outputConfig.format = { type: 'json_schema', schema };
  } else if (rf && rf.type === 'json_object') {
    o.unsupported("response_format 'json_object' without a schema (use 'json_schema')", 'response_format');
  } else if (rf && rf.type !== 'text') {
    invalid('response_format.type', "'response_format.type' must be text, json_object or json_schema");
  }
  if (body.reasoning_effort !== undefined && body.reasoning_effort !== null) {
    if (!EFFORTS.has(body.reasoning_effort as string)) {
      o.unsupported(`reasoning_effort '${shownValue(body.reasoning_effort)}'`, 'reasoning_effort');
    }
    outputConfig.effort = body.reasoning_effort;
  }
  if (Object.keys(outputConfig).length > 0) out.output_config = outputConfig;
  return out;
}
