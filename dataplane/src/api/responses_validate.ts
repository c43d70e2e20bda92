// Validation of a Responses API request body (POST /v1/responses), the way OpenAI answers a bad one:
// 400 invalid_request_error naming the field in `param` (e.g. `input[2].call_id`). Everything the
// translators later rely on is checked here, before routing, limits or any upstream attempt, so a
// malformed item is the client's 400 and never a failed attempt against a provider.
import { GatewayError } from '../errors.ts';
import { checkFunctionName } from './openai_messages.ts';
import { invalid, isObj, shownValue } from './validate.ts';

type Obj = Record<string, unknown>;

const ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const INPUT_PARTS = new Set(['input_text', 'input_image', 'input_file', 'output_text', 'refusal']);
/**
 * item types Sluice can carry to every backend (an item_reference is replaced by the stored item it
 * names, responses/conversation.ts); others are refused with a clear 400
 */
const ITEM_TYPES = new Set([
  'message',
  'function_call',
  'function_call_output',
  'reasoning',
  'item_reference',
]);
/** Bounds on what one request may carry (OpenAI's own: 128 tools; items are bounded by the body size). */
const MAX_TOOLS = 128;
const MAX_ITEMS = 10_000;
/**
 * Input items that name a stored item (item_reference, or an inline item carrying its id): each is a
 * key the state store reads (in one MGET), so their number is bounded on its own.
 */
export const MAX_STORED_ITEM_IDS = 2048;

function unsupported(param: string, message: string): never {
  throw new GatewayError('SLUICE_ERR_UNSUPPORTED_FEATURE', message, { param });
}

function str(o: Obj, key: string, at: string, required = true): void {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) invalid(`${at}.${key}`, `Missing required parameter: '${at}.${key}'.`);
    return;
  }
  if (typeof v !== 'string') invalid(`${at}.${key}`, `Invalid type for '${at}.${key}': expected a string.`);
}

function validateContent(content: unknown, at: string): void {
  if (typeof content === 'string') return;
  if (!Array.isArray(content))
    invalid(at, `Invalid type for '${at}': expected a string or an array of content parts.`);
  content.forEach((part, j) => {
    const p = `${at}[${j}]`;
    if (!isObj(part)) invalid(p, `Invalid type for '${p}': expected an object.`);
    const type = part.type;
    if (typeof type !== 'string' || !INPUT_PARTS.has(type)) {
      invalid(
        `${p}.type`,
        `Invalid value: '${shownValue(type)}'. Supported values are: ${[...INPUT_PARTS].join(', ')}.`,
      );
    }
    if (type === 'input_text' || type === 'output_text') str(part, 'text', p);
    else if (type === 'refusal') str(part, 'refusal', p);
    else if (type === 'input_image') {
      if (typeof part.image_url !== 'string')
        unsupported(
          `${p}.image_url`,
          `'${p}': only images given by image_url (a URL or data URL) are supported`,
        );
    } else if (type === 'input_file') {
      if (typeof part.file_data !== 'string')
        unsupported(`${p}.file_data`, `'${p}': only files given inline as file_data are supported`);
    }
  });
}

function validateItem(item: unknown, at: string): void {
  if (!isObj(item)) invalid(at, `Invalid type for '${at}': expected an object.`);
  // an id names a stored item (responses/conversation.ts looks it up)
  if (item.id !== undefined && item.id !== null && typeof item.id !== 'string')
    invalid(`${at}.id`, `Invalid type for '${at}.id': expected a string.`, 'invalid_type');
  // an item without `type` but with `role` is an "easy input message"
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  if (typeof type !== 'string') invalid(`${at}.type`, `Missing required parameter: '${at}.type'.`);
  if (!ITEM_TYPES.has(type)) {
    unsupported(
      `${at}.type`,
      `input items of type '${type.slice(0, 64)}' are not supported by Sluice (supported: ${[...ITEM_TYPES].join(', ')})`,
    );
  }
  if (type === 'message') {
    if (typeof item.role !== 'string' || !ROLES.has(item.role)) {
      invalid(`${at}.role`, `Invalid value for '${at}.role': expected one of ${[...ROLES].join(', ')}.`);
    }
    validateContent(item.content, `${at}.content`);
  } else if (type === 'function_call') {
    str(item, 'call_id', at);
    str(item, 'name', at);
    str(item, 'arguments', at);
  } else if (type === 'item_reference') {
    str(item, 'id', at);
  } else if (type === 'function_call_output') {
    str(item, 'call_id', at);
    const out = item.output;
    if (typeof out !== 'string') validateContent(out, `${at}.output`);
  }
}

function validateTools(tools: unknown): void {
  if (tools === undefined || tools === null) return;
  if (!Array.isArray(tools)) invalid('tools', "Invalid type for 'tools': expected an array.");
  if (tools.length > MAX_TOOLS) invalid('tools', `'tools' may hold at most ${MAX_TOOLS} tools.`);
  tools.forEach((t, i) => {
    const at = `tools[${i}]`;
    if (!isObj(t)) invalid(at, `Invalid type for '${at}': expected an object.`);
    if (t.type !== 'function') {
      unsupported(
        `${at}.type`,
        `tools of type '${shownValue(t.type)}' are not supported by Sluice (only 'function' tools)`,
      );
    }
    str(t, 'name', at);
    // OpenAI's pattern: Anthropic, Gemini and Bedrock refuse other names in their own words
    checkFunctionName(t.name as string, `${at}.name`);
    if (t.parameters !== undefined && t.parameters !== null && !isObj(t.parameters))
      invalid(`${at}.parameters`, `Invalid type for '${at}.parameters': expected an object.`);
  });
}

function validateToolChoice(tc: unknown): void {
  if (tc === undefined || tc === null) return;
  if (typeof tc === 'string') {
    if (!['auto', 'none', 'required'].includes(tc))
      invalid('tool_choice', "Invalid value for 'tool_choice': expected 'auto', 'none' or 'required'.");
    return;
  }
  if (!isObj(tc) || tc.type !== 'function' || typeof tc.name !== 'string') {
    unsupported(
      'tool_choice',
      "'tool_choice' must be 'auto', 'none', 'required' or {type: 'function', name}",
    );
  }
}

function validateText(text: unknown): void {
  if (text === undefined || text === null) return;
  if (!isObj(text)) invalid('text', "Invalid type for 'text': expected an object.");
  const f = text.format;
  if (f === undefined || f === null) return;
  if (!isObj(f)) invalid('text.format', "Invalid type for 'text.format': expected an object.");
  if (f.type === 'json_schema') {
    str(f, 'name', 'text.format');
    if (!isObj(f.schema)) invalid('text.format.schema', "Missing required parameter: 'text.format.schema'.");
  } else if (f.type !== 'text' && f.type !== 'json_object') {
    invalid(
      'text.format.type',
      "Invalid value for 'text.format.type': expected text, json_object or json_schema.",
    );
  }
}

function optionalNumber(body: Obj, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    invalid(key, `Invalid '${key}': expected a number between ${min} and ${max}.`);
}

/** Throws the 400 OpenAI would give; returns nothing (the body is used as it is). */
export function validateResponsesBody(body: Obj): void {
  const input = body.input;
  if (input === undefined || input === null) invalid('input', "Missing required parameter: 'input'.");
  if (typeof input !== 'string') {
    if (!Array.isArray(input))
      invalid('input', "Invalid type for 'input': expected a string or an array of items.");
    if (input.length > MAX_ITEMS) invalid('input', `'input' may hold at most ${MAX_ITEMS} items.`);
    let named = 0;
    input.forEach((item, i) => {
      validateItem(item, `input[${i}]`);
      if (typeof (item as Obj).id === 'string' && ++named > MAX_STORED_ITEM_IDS) {
        invalid(
          'input',
          `'input' may name at most ${MAX_STORED_ITEM_IDS} stored items (item_reference items and items carrying an id); got more at 'input[${i}]'.`,
        );
      }
    });
  }
  const ins = body.instructions;
  if (ins !== undefined && ins !== null && typeof ins !== 'string')
    invalid('instructions', "Invalid type for 'instructions': expected a string.");
  validateTools(body.tools);
  validateToolChoice(body.tool_choice);
  validateText(body.text);
  optionalNumber(body, 'temperature', 0, 2);
  optionalNumber(body, 'top_p', 0, 1);
  const mot = body.max_output_tokens;
  if (mot !== undefined && mot !== null && (typeof mot !== 'number' || !Number.isInteger(mot) || mot < 16))
    invalid('max_output_tokens', "Invalid 'max_output_tokens': integer below minimum value 16.");
  for (const key of ['stream', 'store', 'parallel_tool_calls'] as const) {
    const v = body[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean')
      invalid(key, `Invalid type for '${key}': expected a boolean.`);
  }
  const prev = body.previous_response_id;
  if (prev !== undefined && prev !== null && typeof prev !== 'string')
    invalid('previous_response_id', "Invalid type for 'previous_response_id': expected a string.");
  if (body.background === true)
    unsupported('background', "'background' responses are not supported by Sluice");
  if (body.conversation !== undefined && body.conversation !== null)
    unsupported(
      'conversation',
      "'conversation' objects are not supported by Sluice; use previous_response_id",
    );
  if (body.prompt !== undefined && body.prompt !== null)
    unsupported('prompt', "stored prompt templates ('prompt') are not supported by Sluice");
  const r = body.reasoning;
  if (r !== undefined && r !== null && !isObj(r))
    invalid('reasoning', "Invalid type for 'reasoning': expected an object.");
  const md = body.metadata;
  if (md !== undefined && md !== null && !isObj(md))
    invalid('metadata', "Invalid type for 'metadata': expected an object.");
}
