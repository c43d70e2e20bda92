// Validation of a chat request's `messages` and `tools`, the way OpenAI answers a bad one (400 invalid_type or
// missing_required_parameter naming the field, e.g. `messages[2].tool_calls[0].function.name`).
// Every translator (Anthropic, Gemini, Bedrock, ...) reads these fields; checking their types once
// here, before routing, makes a malformed message the client's 400 on every backend, instead of a
// translator crash (a 500) or a body the provider refuses in its own words.
import { invalid, invalidType, isObj, missing, shownValue } from './validate.ts';

type Obj = Record<string, unknown>;

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const ROLE_LIST = [...ROLES].map((r) => `'${r}'`).join(', ');

function optionalString(o: Obj, key: string, at: string): void {
  const v = o[key];
  if (v !== undefined && v !== null && typeof v !== 'string') invalidType(`${at}.${key}`, 'a string', v);
}

function requiredString(o: Obj, key: string, at: string): void {
  const v = o[key];
  if (v === undefined || v === null) missing(`${at}.${key}`);
  if (typeof v !== 'string') invalidType(`${at}.${key}`, 'a string', v);
}

/** Content: a string, null, or an array of objects each with a string `type` (and string text). */
function validateContent(content: unknown, at: string): void {
  if (content === undefined || content === null || typeof content === 'string') return;
  if (!Array.isArray(content)) invalidType(at, 'one of a string or array of objects', content);
  content.forEach((part, j) => {
    const p = `${at}[${j}]`;
    if (!isObj(part)) invalidType(p, 'an object', part);
    requiredString(part, 'type', p);
    if (part.type === 'text') requiredString(part, 'text', p);
    if (part.type === 'refusal') requiredString(part, 'refusal', p);
  });
}

function validateToolCalls(calls: unknown, at: string): void {
  if (calls === undefined || calls === null) return;
  if (!Array.isArray(calls)) invalidType(at, 'an array', calls);
  calls.forEach((call, j) => {
    const c = `${at}[${j}]`;
    if (!isObj(call)) invalidType(c, 'an object', call);
    requiredString(call, 'id', c);
    optionalString(call, 'type', c);
    if (call.type === 'custom') {
      if (!isObj(call.custom)) invalidType(`${c}.custom`, 'an object', call.custom);
      requiredString(call.custom, 'name', `${c}.custom`);
      return;
    }
    const fn = call.function;
    if (fn === undefined || fn === null) missing(`${c}.function`);
    if (!isObj(fn)) invalidType(`${c}.function`, 'an object', fn);
    requiredString(fn, 'name', `${c}.function`);
    requiredString(fn, 'arguments', `${c}.function`);
  });
}

/** OpenAI's pattern for a function name; Anthropic, Gemini and Bedrock refuse anything else too. */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** A function tool's name (chat's `tools[i].function.name`, Responses' `tools[i].name`) in OpenAI's words. */
export function checkFunctionName(name: string, at: string): void {
  if (!FUNCTION_NAME.test(name))
    invalid(
      at,
      `Invalid '${at}': string does not match pattern. Expected a string that matches the pattern '${FUNCTION_NAME.source}'.`,
    );
}

/** `tools`: objects with a string type; a function tool has a valid name and object parameters. */
export function validateChatTools(tools: unknown): void {
  if (tools === undefined || tools === null) return;
  if (!Array.isArray(tools)) invalidType('tools', 'an array', tools);
  tools.forEach((tool, i) => {
    const at = `tools[${i}]`;
    if (!isObj(tool)) invalidType(at, 'an object', tool);
    requiredString(tool, 'type', at);
    if (tool.type !== 'function') return; // other tool types: each backend says whether it takes them
    const fn = tool.function;
    if (fn === undefined || fn === null) missing(`${at}.function`);
    if (!isObj(fn)) invalidType(`${at}.function`, 'an object', fn);
    requiredString(fn, 'name', `${at}.function`);
    checkFunctionName(fn.name as string, `${at}.function.name`);
    optionalString(fn, 'description', `${at}.function`);
    const params = fn.parameters;
    if (params !== undefined && params !== null && !isObj(params))
      invalidType(`${at}.function.parameters`, 'an object', params);
  });
}

export function validateChatMessages(messages: unknown[]): void {
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (!isObj(m)) invalidType(at, 'an object', m);
    const role = m.role;
    if (role === undefined || role === null) missing(`${at}.role`);
    // an object or array is never a role; String() of one may throw (a "toString" key that is not a
    // function), which was a 500
    if (typeof role === 'object') invalidType(`${at}.role`, 'a string', role);
    if (typeof role !== 'string' || !ROLES.has(role)) {
      invalid(
        `${at}.role`,
        `Invalid value: ${JSON.stringify(shownValue(role))}. Supported values are: ${ROLE_LIST}.`,
        'invalid_value',
      );
    }
    validateContent(m.content, `${at}.content`);
    optionalString(m, 'name', at);
    // checked whatever the role: translators collect the calls of every message
    validateToolCalls(m.tool_calls, `${at}.tool_calls`);
    if (role === 'tool') requiredString(m, 'tool_call_id', at);
  });
  validateToolPairing(messages as Obj[]);
}

/**
 * Tool results answer the calls of the assistant message right before them, each call is answered
 * before the conversation goes on (OpenAI's rule, and Anthropic's, Gemini's and Bedrock's, whose
 * translators would otherwise send a conversation the provider refuses in its own words).
 */
function validateToolPairing(messages: Obj[]): void {
  // the calls of the last assistant message, and those not answered yet; none (no Sets made) for the
  // conversations without tools that most requests are
  let offered: Set<string> | undefined;
  let pending: Set<string> | undefined;
  const unanswered = (i: number) => {
    if (pending === undefined || pending.size === 0) return;
    invalid(
      `messages[${i}]`,
      `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].map(shownValue).join(', ')}`,
    );
  };
  messages.forEach((m, i) => {
    if (m.role === 'tool') {
      if (!offered?.has(m.tool_call_id as string))
        invalid(
          `messages[${i}].role`,
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        );
      pending?.delete(m.tool_call_id as string);
      return;
    }
    unanswered(i);
    const calls = m.role === 'assistant' && Array.isArray(m.tool_calls) ? (m.tool_calls as Obj[]) : [];
    offered = calls.length > 0 ? new Set(calls.map((c) => c.id as string)) : undefined;
    pending = offered && new Set(offered);
  });
  unanswered(messages.length - 1);
}
