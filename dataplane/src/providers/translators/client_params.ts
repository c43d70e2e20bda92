// A backend translator reached through a chat body (Anthropic or Responses client -> Gemini, Bedrock,
// ...) names what it refuses in OpenAI chat terms: `messages[3].tool_calls[0].function.name`, `stop`,
// `tools[1].function.name`. Those are the wrong names for a client that never sent a chat body: an
// Anthropic client's message 3 may be chat message 4 (the system prompt comes first, a turn with tool
// results becomes several messages), and a Responses client has no `messages` at all. The compositions
// record where each chat message came from and turn the refusal's `param` (and the path its message
// quotes) back into the client's names.
import { GatewayError } from '../../errors.ts';

/** How a client API names the fields its chat body was built from. */
export interface ClientNames {
  /** the client field that holds the conversation (`messages`, `input`) */
  conversation: string;
  /** chat field -> the client's field (`stop` -> `stop_sequences`); absent: the same name */
  fields: Readonly<Record<string, string>>;
  /** a chat tool's `function.<field>` -> the client tool's field; absent: the same name */
  toolFields: Readonly<Record<string, string>>;
}

export const ANTHROPIC_NAMES: ClientNames = {
  conversation: 'messages',
  fields: {
    stop: 'stop_sequences',
    max_completion_tokens: 'max_tokens',
    response_format: 'output_config.format',
    reasoning_effort: 'output_config.effort',
    user: 'metadata.user_id',
  },
  toolFields: { parameters: 'input_schema' },
};

export const RESPONSES_NAMES: ClientNames = {
  conversation: 'input',
  fields: {
    max_tokens: 'max_output_tokens',
    max_completion_tokens: 'max_output_tokens',
    response_format: 'text.format',
    reasoning_effort: 'reasoning.effort',
  },
  toolFields: {},
};

const CHAT_MESSAGE = /^messages\[(\d+)\]/;
const CHAT_TOOL = /^tools\[(\d+)\](?:\.function\.([a-z_]+))?/;

/**
 * A chat body's param in the client's names. `origins[i]` is the client path chat message i came
 * from (`messages[2]`, `system`, `input[4]`); a path inside a message is not carried over, since the
 * client's message is shaped differently (a chat tool call is an Anthropic `tool_use` block).
 */
export function clientParam(param: string, origins: readonly string[], names: ClientNames): string {
  const message = CHAT_MESSAGE.exec(param);
  if (message) return origins[Number(message[1])] ?? names.conversation;
  if (param === 'messages') return names.conversation;
  const tool = CHAT_TOOL.exec(param);
  // the compositions map tools one to one, so the index is the client's
  if (tool) {
    const field = tool[2];
    return field ? `tools[${tool[1]}].${names.toolFields[field] ?? field}` : `tools[${tool[1]}]`;
  }
  const end = param.search(/[.[]/);
  const top = end < 0 ? param : param.slice(0, end);
  const renamed = names.fields[top];
  return renamed === undefined ? param : renamed + param.slice(top.length);
}

/** The error with its param (and the path its message quotes) in the client's names. */
export function inClientTerms(err: unknown, origins: readonly string[], names: ClientNames): unknown {
  if (!(err instanceof GatewayError) || !err.param) return err;
  const param = clientParam(err.param, origins, names);
  if (param === err.param) return err;
  return err.copyWith({
    message: err.message.replaceAll(`'${err.param}'`, `'${param}'`),
    param,
    upstream: err.upstream,
  });
}
