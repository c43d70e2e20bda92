// Request validation of the fake Anthropic server, written from Anthropic's documented Messages API
// (independently of the gateway's own validator, so a gateway bug cannot hide behind a shared one).
// Returns the error the real API would answer with, or undefined for a valid request.

export interface FakeApiError {
  status: number;
  type: string;
  message: string;
}

type Obj = Record<string, unknown>;

/** Top-level fields of the Messages API (2023-06-01, plus output_config); anything else is rejected. */
const FIELDS = new Set([
  'model',
  'max_tokens',
  'messages',
  'system',
  'stream',
  'temperature',
  'top_p',
  'top_k',
  'stop_sequences',
  'metadata',
  'tools',
  'tool_choice',
  'thinking',
  'service_tier',
  'output_config',
]);
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
/** tool_use.id and tool_result.tool_use_id: ids minted elsewhere ('functions.f:0') are refused */
const TOOL_ID = /^[a-zA-Z0-9_-]+$/;

function toolId(v: unknown, path: string): void {
  if (!TOOL_ID.test(str(v, path))) bad(path, "String should match pattern '^[a-zA-Z0-9_-]+$'");
}

class Invalid extends Error {}

function bad(path: string, message: string): never {
  throw new Invalid(path ? `${path}: ${message}` : message);
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown, path: string): string {
  if (v === undefined) bad(path, 'Field required');
  if (typeof v !== 'string') bad(path, 'Input should be a valid string');
  return v;
}

function block(b: unknown, path: string, role: string): void {
  if (!isObj(b)) bad(path, 'Input should be a valid dictionary');
  switch (b.type) {
    case 'text': {
      // the API's two refusals, both at the path `messages`, not the block's
      const text = str(b.text, `${path}.text`);
      if (text === '') bad('messages', 'text content blocks must be non-empty');
      if (text.trim() === '') bad('messages', 'text content blocks must contain non-whitespace text');
      break;
    }
    case 'image': {
      const src = b.source;
      if (!isObj(src)) bad(`${path}.source`, 'Field required');
      if (src.type === 'base64') {
        if (!IMAGE_TYPES.has(String(src.media_type))) {
          bad(
            `${path}.source.base64.media_type`,
            "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
          );
        }
        str(src.data, `${path}.source.base64.data`);
      } else if (src.type === 'url') {
        str(src.url, `${path}.source.url.url`);
      } else bad(`${path}.source`, "Input tag does not match any of the expected tags: 'base64', 'url'");
      break;
    }
    case 'document':
      if (!isObj(b.source)) bad(`${path}.source`, 'Field required');
      break;
    case 'tool_use':
      if (role !== 'assistant') bad(path, '`tool_use` blocks may only appear in `assistant` messages');
      toolId(b.id, `${path}.tool_use.id`);
      str(b.name, `${path}.name`);
      if (!isObj(b.input)) bad(`${path}.input`, 'Input should be a valid dictionary');
      break;
    case 'tool_result':
      if (role !== 'user') bad(path, '`tool_result` blocks may only appear in `user` messages');
      toolId(b.tool_use_id, `${path}.tool_result.tool_use_id`);
      if (Array.isArray(b.content))
        b.content.forEach((c, k) => {
          block(c, `${path}.content.${k}`, 'tool_result');
        });
      else if (b.content !== undefined && typeof b.content !== 'string')
        bad(`${path}.content`, 'Input should be a valid list');
      break;
    default:
      bad(
        `${path}.type`,
        `Input tag '${String(b.type)}' found using 'type' does not match any of the expected tags`,
      );
  }
}

function messages(list: unknown): void {
  if (list === undefined) bad('messages', 'Field required');
  if (!Array.isArray(list)) bad('messages', 'Input should be a valid list');
  if (list.length === 0) bad('messages', 'at least one message is required');
  let prevToolUses = new Set<unknown>();
  let prevRole = '';
  list.forEach((m, i) => {
    const path = `messages.${i}`;
    if (!isObj(m)) bad(path, 'Input should be a valid dictionary');
    if (m.role === 'system') {
      bad(
        `${path}.role`,
        'Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.',
      );
    }
    if (m.role !== 'user' && m.role !== 'assistant')
      bad(`${path}.role`, "Input should be 'user' or 'assistant'");
    const c = m.content;
    if (typeof c !== 'string' && !Array.isArray(c)) bad(`${path}.content`, 'Input should be a valid list');
    const last = i === list.length - 1;
    if ((c === '' || c.length === 0) && !(last && m.role === 'assistant')) {
      bad(path, 'all messages must have non-empty content except for the optional final assistant message');
    }
    // string content is one text block to the API: "  " is refused like a blank block (the final
    // assistant prefill "" is the one empty content it takes)
    if (typeof c === 'string' && c !== '' && c.trim() === '')
      bad('messages', 'text content blocks must contain non-whitespace text');
    const blocks: Obj[] = typeof c === 'string' ? [] : (c as Obj[]);
    blocks.forEach((b, j) => {
      block(b, `${path}.content.${j}`, String(m.role));
    });
    if (m.role === prevRole) bad('messages', 'roles must alternate between "user" and "assistant"');
    const results = new Set(blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    for (const id of results) {
      if (!prevToolUses.has(id)) {
        bad(
          `${path}.content.0`,
          `unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
      }
    }
    for (const id of prevToolUses) {
      if (!results.has(id)) {
        bad(
          path,
          `\`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${String(id)}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
        );
      }
    }
    prevToolUses = new Set(blocks.filter((b) => b.type === 'tool_use').map((b) => b.id));
    prevRole = String(m.role);
    // a prefill may not end in whitespace, whether it is a string or its last block is text
    const tail = typeof c === 'string' ? c : blocks.at(-1)?.type === 'text' ? blocks.at(-1)?.text : '';
    if (last && m.role === 'assistant' && typeof tail === 'string' && /\s$/.test(tail)) {
      bad(path, 'final assistant content cannot end with trailing whitespace');
    }
  });
}

function tools(list: unknown, choice: unknown): void {
  if (list !== undefined) {
    if (!Array.isArray(list)) bad('tools', 'Input should be a valid list');
    const seen = new Set<string>();
    list.forEach((t, i) => {
      if (!isObj(t)) bad(`tools.${i}`, 'Input should be a valid dictionary');
      const name = str(t.name, `tools.${i}.name`);
      if (!TOOL_NAME.test(name))
        bad(`tools.${i}.custom.name`, "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'");
      if (seen.has(name)) bad('tools', 'Tool names must be unique.');
      seen.add(name);
      if (!isObj(t.input_schema)) bad(`tools.${i}.custom.input_schema`, 'Field required');
      if (t.input_schema.type !== 'object')
        bad(`tools.${i}.custom.input_schema.type`, "Input should be 'object'");
      for (const k of Object.keys(t)) {
        if (!['name', 'description', 'input_schema', 'type', 'cache_control', 'strict'].includes(k)) {
          bad(`tools.${i}.custom.${k}`, 'Extra inputs are not permitted');
        }
      }
    });
  }
  if (choice === undefined) return;
  if (!isObj(choice) || !['auto', 'any', 'tool', 'none'].includes(String(choice.type))) {
    bad('tool_choice', "Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
  }
  if (list === undefined && choice.type !== 'none')
    bad('', 'tool_choice may only be specified while providing tools');
  if (choice.type === 'tool') str(choice.name, 'tool_choice.tool.name');
}

function body(b: Obj): void {
  for (const k of Object.keys(b)) if (!FIELDS.has(k)) bad(k, 'Extra inputs are not permitted');
  str(b.model, 'model');
  if (b.max_tokens === undefined) bad('max_tokens', 'Field required');
  if (!Number.isInteger(b.max_tokens) || (b.max_tokens as number) < 1)
    bad('max_tokens', 'Input should be greater than or equal to 1');
  messages(b.messages);
  if (b.system !== undefined && typeof b.system !== 'string') {
    if (!Array.isArray(b.system)) bad('system', 'Input should be a valid string');
    b.system.forEach((s, i) => {
      if (!isObj(s) || s.type !== 'text' || typeof s.text !== 'string')
        bad(`system.${i}`, 'Input should be a text block');
    });
  }
  tools(b.tools, b.tool_choice);
  for (const [k, max] of [
    ['temperature', 1],
    ['top_p', 1],
  ] as const) {
    const v = b[k];
    if (v !== undefined && (typeof v !== 'number' || v < 0 || v > max))
      bad(k, `Input should be less than or equal to ${max}`);
  }
  if (
    b.stop_sequences !== undefined &&
    (!Array.isArray(b.stop_sequences) || b.stop_sequences.some((s) => typeof s !== 'string'))
  ) {
    bad('stop_sequences', 'Input should be a valid list of strings');
  }
  for (const s of (b.stop_sequences as string[] | undefined) ?? []) {
    if (s === '') bad('stop_sequences', 'each stop sequence must be non-empty');
    if (s.trim() === '') bad('stop_sequences', 'each stop sequence must contain non-whitespace');
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    bad('stream', 'Input should be a valid boolean');
  if (b.output_config !== undefined) {
    const oc = b.output_config;
    if (!isObj(oc)) bad('output_config', 'Input should be a valid dictionary');
    const f = oc.format;
    if (f !== undefined && (!isObj(f) || f.type !== 'json_schema' || !isObj(f.schema))) {
      bad('output_config.format', "Input should be a json_schema format with a 'schema'");
    }
  }
}

export interface HeaderCheck {
  apiKey: string;
  versions: ReadonlySet<string>;
}

/** What the real API would answer for these headers and this body; undefined when it would serve it. */
export function validateAnthropicRequest(
  headers: Record<string, string | string[] | undefined>,
  raw: string,
  check: HeaderCheck,
): FakeApiError | undefined {
  const key = headers['x-api-key'];
  if (key === undefined)
    return { status: 401, type: 'authentication_error', message: 'x-api-key header is required' };
  if (key !== check.apiKey)
    return { status: 401, type: 'authentication_error', message: 'invalid x-api-key' };
  const version = headers['anthropic-version'];
  if (version === undefined) {
    return { status: 400, type: 'invalid_request_error', message: 'anthropic-version: header is required' };
  }
  if (!check.versions.has(String(version))) {
    return {
      status: 400,
      type: 'invalid_request_error',
      message: `anthropic-version: invalid version '${String(version)}'`,
    };
  }
  if (!String(headers['content-type'] ?? '').startsWith('application/json')) {
    return { status: 400, type: 'invalid_request_error', message: 'content-type must be application/json' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return {
      status: 400,
      type: 'invalid_request_error',
      message: 'There was an error parsing the body of your request',
    };
  }
  try {
    if (!isObj(parsed)) bad('', 'Input should be a valid dictionary');
    body(parsed);
  } catch (err) {
    if (err instanceof Invalid) return { status: 400, type: 'invalid_request_error', message: err.message };
    throw err;
  }
  return undefined;
}
