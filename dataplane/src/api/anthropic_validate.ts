// Validation of an Anthropic Messages request body, mirroring what the real API rejects: required
// model / max_tokens / messages, roles, content block shapes, tool_use <-> tool_result pairing between
// adjacent turns, tool definitions and tool_choice. Messages name the field the way Anthropic does
// (`messages.1.content.0.source.media_type: ...`); `param` carries the same path.
import { GatewayError } from '../errors.ts';
import { isBase64, isObj, shownValue } from './validate.ts';

type Obj = Record<string, unknown>;

export function fail(path: string, message: string): never {
  throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', path ? `${path}: ${message}` : message, {
    param: path || undefined,
  });
}

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
const ROLES = new Set(['user', 'assistant', 'system']);
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
/** Anthropic's pattern for tool_use.id and tool_result.tool_use_id */
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

function requireToolId(v: unknown, path: string): void {
  if (!TOOL_ID.test(requireString(v, path))) fail(path, "String should match pattern '^[a-zA-Z0-9_-]+$'");
}

function requireString(v: unknown, path: string): string {
  if (v === undefined || v === null) fail(path, 'Field required');
  if (typeof v !== 'string') fail(path, 'Input should be a valid string');
  return v;
}

function validateSource(src: unknown, path: string, kind: 'image' | 'document'): void {
  if (!isObj(src)) fail(path, 'Field required');
  switch (src.type) {
    case 'base64': {
      const mt = requireString(src.media_type, `${path}.media_type`);
      if (kind === 'image' && !IMAGE_TYPES.includes(mt)) {
        fail(`${path}.media_type`, `Input should be ${IMAGE_TYPES.map((t) => `'${t}'`).join(', ')}`);
      }
      if (!isBase64(requireString(src.data, `${path}.data`)))
        fail(`${path}.data`, 'Input should be a valid base64 string');
      break;
    }
    case 'url':
      requireString(src.url, `${path}.url`);
      break;
    case 'file':
      requireString(src.file_id, `${path}.file_id`);
      break;
    case 'text':
    case 'content':
      if (kind === 'image') fail(`${path}.type`, "Input should be 'base64', 'url' or 'file'");
      break;
    default:
      fail(`${path}.type`, `Input should be 'base64', 'url' or 'file'`);
  }
}

function validateText(b: Obj, path: string): void {
  const text = requireString(b.text, `${path}.text`);
  if (text === '') fail(path, 'text content blocks must be non-empty');
}

/** One content block. Types Sluice does not know are left for the backend to judge. */
function validateBlock(b: unknown, path: string, role: string): void {
  if (!isObj(b)) fail(path, 'Input should be a valid dictionary or object');
  const type = requireString(b.type, `${path}.type`);
  switch (type) {
    case 'text':
      validateText(b, path);
      // Anthropic's second rule for a message's text block (not checked for system blocks: no
      // evidence it refuses a blank one there)
      if ((b.text as string).trim() === '')
        fail(path, 'text content blocks must contain non-whitespace text');
      break;
    case 'image':
      validateSource(b.source, `${path}.source`, 'image');
      break;
    case 'document':
      validateSource(b.source, `${path}.source`, 'document');
      break;
    case 'tool_use':
      if (role !== 'assistant') fail(path, '`tool_use` blocks can only be in `assistant` messages');
      requireToolId(b.id, `${path}.id`);
      requireString(b.name, `${path}.name`);
      if (!isObj(b.input)) fail(`${path}.input`, 'Input should be a valid dictionary');
      break;
    case 'tool_result': {
      if (role !== 'user') fail(path, '`tool_result` blocks can only be in `user` messages');
      requireToolId(b.tool_use_id, `${path}.tool_use_id`);
      if (b.is_error !== undefined && typeof b.is_error !== 'boolean') {
        fail(`${path}.is_error`, 'Input should be a valid boolean');
      }
      const c = b.content;
      if (Array.isArray(c))
        c.forEach((inner, k) => {
          validateBlock(inner, `${path}.content.${k}`, 'tool_result');
        });
      else if (c !== undefined && typeof c !== 'string')
        fail(`${path}.content`, 'Input should be a valid string or list');
      break;
    }
    case 'thinking':
      requireString(b.thinking, `${path}.thinking`);
      requireString(b.signature, `${path}.signature`);
      break;
    default:
      break;
  }
}

interface Turn {
  role: string;
  blocks: Obj[];
  /** index of the first message of the turn (consecutive same-role messages form one turn) */
  first: number;
}

function blocksOf(content: unknown): Obj[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : (content as Obj[]);
}

/** tool_use ids must be answered by tool_result blocks in the very next turn, and only there. */
function validateToolPairing(turns: Turn[]): void {
  turns.forEach((turn, t) => {
    const prev = turns[t - 1];
    const offered = new Set(
      prev?.role === 'assistant' ? prev.blocks.filter((b) => b.type === 'tool_use').map((b) => b.id) : [],
    );
    for (const b of turn.blocks) {
      if (b.type === 'tool_result' && !offered.has(b.tool_use_id)) {
        fail(
          `messages.${turn.first}.content`,
          `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${shownValue(b.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    const next = turns[t + 1];
    if (turn.role !== 'assistant' || !next) return;
    const answered = new Set(next.blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    const missing = turn.blocks.filter((b) => b.type === 'tool_use' && !answered.has(b.id)).map((b) => b.id);
    if (missing.length > 0) {
      fail(
        `messages.${next.first}`,
        `\`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
    }
  });
}

export function validateMessages(messages: unknown): void {
  if (messages === undefined || messages === null) fail('messages', 'Field required');
  if (!Array.isArray(messages)) fail('messages', 'Input should be a valid list');
  if (messages.length === 0) fail('messages', 'at least one message is required');
  const turns: Turn[] = [];
  messages.forEach((m, i) => {
    const path = `messages.${i}`;
    if (!isObj(m)) fail(path, 'Input should be a valid dictionary or object');
    const role = requireString(m.role, `${path}.role`);
    if (!ROLES.has(role)) fail(`${path}.role`, "Input should be 'user' or 'assistant'");
    const c = m.content;
    if (c === undefined || c === null) fail(`${path}.content`, 'Field required');
    if (typeof c !== 'string' && !Array.isArray(c))
      fail(`${path}.content`, 'Input should be a valid string or list');
    const isFinal = i === messages.length - 1;
    const empty = typeof c === 'string' ? c === '' : c.length === 0;
    if (empty && !(isFinal && role === 'assistant')) {
      fail(path, 'all messages must have non-empty content except for the optional final assistant message');
    }
    // string content is one text block to the API; "" is the empty-content rule above
    if (typeof c === 'string' && c !== '' && c.trim() === '')
      fail(path, 'text content blocks must contain non-whitespace text');
    if (Array.isArray(c)) {
      c.forEach((b, j) => {
        validateBlock(b, `${path}.content.${j}`, role);
      });
    }
    if (isFinal && role === 'assistant') {
      const last = typeof c === 'string' ? c : (c.at(-1) as Obj | undefined)?.text;
      if (typeof last === 'string' && last !== '' && /\s$/.test(last)) {
        fail(path, 'final assistant content cannot end with trailing whitespace');
      }
    }
    const prev = turns.at(-1);
    if (prev && prev.role === role) prev.blocks.push(...blocksOf(c));
    else turns.push({ role, blocks: [...blocksOf(c)], first: i });
  });
  validateToolPairing(turns.filter((t) => t.role !== 'system'));
}

export function validateSystem(system: unknown): void {
  if (system === undefined || system === null || typeof system === 'string') return;
  if (!Array.isArray(system)) fail('system', 'Input should be a valid string or list');
  system.forEach((b, i) => {
    if (!isObj(b) || b.type !== 'text') fail(`system.${i}.type`, "Input should be 'text'");
    validateText(b, `system.${i}`);
  });
}

export function validateTools(tools: unknown, toolChoice: unknown): void {
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) fail('tools', 'Input should be a valid list');
    const names = new Set<string>();
    tools.forEach((t, i) => {
      const path = `tools.${i}`;
      if (!isObj(t)) fail(path, 'Input should be a valid dictionary or object');
      const name = requireString(t.name, `${path}.name`);
      if (names.has(name)) fail('tools', `Tool names must be unique: '${name}'`);
      names.add(name);
      if (t.type !== undefined && t.type !== null && t.type !== 'custom') return; // a server tool
      if (!TOOL_NAME.test(name)) fail(`${path}.name`, "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'");
      if (t.description !== undefined && typeof t.description !== 'string') {
        fail(`${path}.description`, 'Input should be a valid string');
      }
      if (!isObj(t.input_schema)) fail(`${path}.input_schema`, 'Field required');
      if (t.input_schema.type !== 'object') fail(`${path}.input_schema.type`, "Input should be 'object'");
    });
  }
  if (toolChoice === undefined || toolChoice === null) return;
  if (!isObj(toolChoice)) fail('tool_choice', 'Input should be a valid dictionary or object');
  // a string compare, never String(): an array ['auto'] would pass, an object with a toString key throw
  if (typeof toolChoice.type !== 'string' || !['auto', 'any', 'tool', 'none'].includes(toolChoice.type)) {
    fail('tool_choice.type', "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  if (toolChoice.type === 'tool') requireString(toolChoice.name, 'tool_choice.name');
  if (!Array.isArray(tools) || tools.length === 0) {
    if (toolChoice.type !== 'none')
      fail('tool_choice', 'tool_choice may only be specified while providing tools');
  } else if (toolChoice.type === 'tool' && !tools.some((t) => (t as Obj).name === toolChoice.name)) {
    fail('tool_choice.name', `tool '${shownValue(toolChoice.name)}' is not one of the provided tools`);
  }
  if (
    toolChoice.disable_parallel_tool_use !== undefined &&
    typeof toolChoice.disable_parallel_tool_use !== 'boolean'
  ) {
    fail('tool_choice.disable_parallel_tool_use', 'Input should be a valid boolean');
  }
}
