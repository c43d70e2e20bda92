// Request validation for the fake Bedrock Converse API, with the ValidationException messages the real
// service gives: the conversation must start with a user turn and alternate roles, content blocks hold
// exactly one member, text may not be blank, toolUse/toolResult need toolConfig and results must
// answer the toolUse blocks of the previous assistant turn, tool names and toolUseIds match
// [a-zA-Z0-9_-]{1,64} (ToolUseBlock / ToolResultBlock in the API reference), inferenceConfig is
// range-checked.

const TOP = new Set([
  'messages',
  'system',
  'inferenceConfig',
  'toolConfig',
  'additionalModelRequestFields',
  'additionalModelResponseFieldPaths',
  'guardrailConfig',
  'promptVariables',
  'requestMetadata',
  'performanceConfig',
]);
const BLOCKS = new Set([
  'text',
  'image',
  'document',
  'video',
  'toolUse',
  'toolResult',
  'guardContent',
  'cachePoint',
  'reasoningContent',
]);
const INFERENCE = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);
const IMAGE_FORMATS = new Set(['png', 'jpeg', 'gif', 'webp']);

/** ToolUseBlock name and toolUseId (and ToolResultBlock toolUseId): [a-zA-Z0-9_-]+, 1 to 64 long */
const TOOL_TOKEN = /^[a-zA-Z0-9_-]{1,64}$/;
const badToken = (at: string) =>
  `1 validation error detected: Value at '${at}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+`;

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function validateBlock(b: unknown, at: string, role: string): string | undefined {
  if (!isObj(b)) return `The content block at ${at} must be an object.`;
  const keys = Object.keys(b);
  if (keys.length !== 1 || !BLOCKS.has(keys[0] as string))
    return `The content block at ${at} must contain exactly one of: ${[...BLOCKS].join(', ')}.`;
  if ('text' in b && (typeof b.text !== 'string' || b.text.trim() === ''))
    return `The text field in the ContentBlock object at ${at} is blank. Add text to the text field, and try again.`;
  if ('image' in b) {
    const img = b.image as { format?: unknown; source?: { bytes?: unknown } };
    if (!IMAGE_FORMATS.has(img?.format as string))
      return `${at}.image.format must be one of png, jpeg, gif, webp.`;
    if (typeof img.source?.bytes !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(img.source.bytes))
      return `${at}.image.source.bytes must be base64.`;
  }
  if ('toolUse' in b) {
    const tu = b.toolUse as Record<string, unknown>;
    if (role !== 'assistant') return `toolUse blocks are only allowed in assistant messages (${at}).`;
    if (typeof tu?.toolUseId !== 'string' || typeof tu.name !== 'string' || !isObj(tu.input))
      return `${at}.toolUse needs toolUseId, name and an object input.`;
    if (!TOOL_TOKEN.test(tu.toolUseId)) return badToken(`${at}.member.toolUse.toolUseId`);
    if (!TOOL_TOKEN.test(tu.name)) return badToken(`${at}.member.toolUse.name`);
  }
  if ('toolResult' in b) {
    const tr = b.toolResult as Record<string, unknown>;
    if (role !== 'user') return `toolResult blocks are only allowed in user messages (${at}).`;
    if (typeof tr?.toolUseId !== 'string' || !Array.isArray(tr.content))
      return `${at}.toolResult needs toolUseId and content.`;
    if (!TOOL_TOKEN.test(tr.toolUseId)) return badToken(`${at}.member.toolResult.toolUseId`);
  }
  return undefined;
}

function validateMessages(messages: unknown, hasToolConfig: boolean): string | undefined {
  if (!Array.isArray(messages) || messages.length === 0)
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  let prevToolUses: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Record<string, unknown>;
    if (!isObj(m) || (m.role !== 'user' && m.role !== 'assistant'))
      return `messages.${i}.role must be user or assistant.`;
    if (i === 0 && m.role !== 'user')
      return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
    if (i > 0 && (messages[i - 1] as { role?: unknown }).role === m.role)
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    if (!Array.isArray(m.content) || m.content.length === 0)
      return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    const toolUses: string[] = [];
    for (let j = 0; j < m.content.length; j++) {
      const problem = validateBlock(m.content[j], `messages.${i}.content.${j}`, m.role);
      if (problem) return problem;
      const b = m.content[j] as Record<string, Record<string, unknown>>;
      if ((b.toolUse || b.toolResult) && !hasToolConfig)
        return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
      if (b.toolUse) toolUses.push(b.toolUse.toolUseId as string);
      if (b.toolResult && !prevToolUses.includes(b.toolResult.toolUseId as string))
        return `The toolResult block at messages.${i}.content.${j} does not match a toolUse block of the previous turn (${String(b.toolResult.toolUseId)}).`;
    }
    prevToolUses = toolUses;
  }
  return undefined;
}

function validateInference(c: unknown): string | undefined {
  if (c === undefined) return undefined;
  if (!isObj(c)) return 'inferenceConfig must be an object.';
  for (const k of Object.keys(c))
    if (!INFERENCE.has(k))
      return `Malformed input request: extraneous key [${k}] is not permitted in inferenceConfig.`;
  if (c.maxTokens !== undefined && (!Number.isInteger(c.maxTokens) || (c.maxTokens as number) < 1))
    return 'The maximum tokens you requested must be at least 1.';
  if (
    c.temperature !== undefined &&
    (typeof c.temperature !== 'number' || c.temperature < 0 || c.temperature > 1)
  )
    return 'The value at inferenceConfig.temperature must be between 0 and 1.';
  if (c.topP !== undefined && (typeof c.topP !== 'number' || c.topP < 0 || c.topP > 1))
    return 'inferenceConfig.topP must be between 0 and 1.';
  if (
    c.stopSequences !== undefined &&
    (!Array.isArray(c.stopSequences) || c.stopSequences.some((s) => typeof s !== 'string'))
  )
    return 'inferenceConfig.stopSequences must be a list of strings.';
  return undefined;
}

function validateToolConfig(tc: unknown): string | undefined {
  if (tc === undefined) return undefined;
  if (!isObj(tc) || !Array.isArray(tc.tools) || tc.tools.length === 0)
    return 'toolConfig.tools must be a non-empty list.';
  for (let i = 0; i < tc.tools.length; i++) {
    const spec = (tc.tools[i] as { toolSpec?: Record<string, unknown> }).toolSpec;
    if (!spec || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name))
      return `toolConfig.tools.${i}.toolSpec.name must match [a-zA-Z0-9_-]{1,64}.`;
    if (!isObj((spec.inputSchema as { json?: unknown } | undefined)?.json))
      return `toolConfig.tools.${i}.toolSpec.inputSchema.json is required.`;
  }
  const choice = tc.toolChoice;
  if (
    choice !== undefined &&
    (!isObj(choice) ||
      Object.keys(choice).length !== 1 ||
      !['auto', 'any', 'tool'].includes(Object.keys(choice)[0] as string))
  )
    return 'toolConfig.toolChoice must be one of auto, any, tool.';
  return undefined;
}

export function validateConverse(body: Record<string, unknown>): string | undefined {
  for (const k of Object.keys(body))
    if (!TOP.has(k))
      return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  if (body.system !== undefined && (!Array.isArray(body.system) || body.system.some((s) => !isObj(s))))
    return 'system must be a list of SystemContentBlock objects.';
  return (
    validateMessages(body.messages, body.toolConfig !== undefined) ??
    validateInference(body.inferenceConfig) ??
    validateToolConfig(body.toolConfig)
  );
}
