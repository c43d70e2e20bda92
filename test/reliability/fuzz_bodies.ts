// The valid, feature-rich request bodies the translator fuzz starts from (one per client API: tools,
// tool calls and results, images, system prompts, sampling fields) and the optional fields of each
// API that the bodies leave out, which the fuzz adds with hostile values.

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export const chatBody = {
  model: 'oa',
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is the weather?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      ],
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
    { role: 'user', content: 'Thanks.' },
  ],
  tools: [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ],
  tool_choice: 'auto',
  temperature: 0.5,
  top_p: 0.9,
  max_tokens: 16,
  stop: ['END'],
  n: 1,
  user: 'user-1',
  seed: 7,
  response_format: { type: 'text' },
};

export const messagesBody = {
  model: 'an',
  max_tokens: 16,
  system: [{ type: 'text', text: 'Be brief.' }],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is the weather?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'text', text: 'Looking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
    },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
  ],
  tools: [
    {
      name: 'get_weather',
      description: 'Weather for a city',
      input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ],
  tool_choice: { type: 'auto' },
  temperature: 0.5,
  stop_sequences: ['END'],
  metadata: { user_id: 'user-1' },
};

export const responsesBody = {
  model: 'oa',
  instructions: 'Be brief.',
  input: [
    {
      role: 'user',
      content: [
        { type: 'input_text', text: 'What is the weather?' },
        { type: 'input_image', image_url: `data:image/png;base64,${PNG}` },
      ],
    },
    { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
    { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
  ],
  tools: [
    {
      type: 'function',
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  ],
  tool_choice: 'auto',
  max_output_tokens: 16,
  temperature: 0.5,
  text: { format: { type: 'text' } },
  store: false,
};

export const completionsBody = {
  model: 'oa',
  prompt: 'Say hi',
  max_tokens: 8,
  temperature: 0.5,
  stop: ['END'],
};
export const embeddingsBody = { model: 'oa', input: ['first text', 'second text'], encoding_format: 'float' };
/** count_tokens takes the Messages body without max_tokens. */
export const countTokensBody: Record<string, unknown> = Object.fromEntries(
  Object.entries(messagesBody).filter(([k]) => k !== 'max_tokens'),
);

/** Optional fields of the client APIs that the base bodies leave out: the fuzz adds them with hostile values. */
export const OPENAI_FIELDS = [
  'reasoning_effort',
  'response_format',
  'tool_choice',
  'parallel_tool_calls',
  'logprobs',
  'top_logprobs',
  'logit_bias',
  'audio',
  'modalities',
  'prediction',
  'service_tier',
  'stream_options',
  'max_completion_tokens',
  'presence_penalty',
  'frequency_penalty',
  'metadata',
  'store',
  'web_search_options',
  'name',
  'tool_call_id',
  'tool_calls',
  'refusal',
  'function_call',
  'functions',
  'image_url',
  'input_audio',
  'file',
  'cache_control',
  'dimensions',
  'echo',
  'suffix',
  'best_of',
];
export const ANTHROPIC_FIELDS = [
  'thinking',
  'output_config',
  'service_tier',
  'top_k',
  'top_p',
  'stream',
  'cache_control',
  'citations',
  'is_error',
  'source',
  'tool_choice',
  'disable_parallel_tool_use',
  'container',
  'mcp_servers',
];
export const RESPONSES_FIELDS = [
  'previous_response_id',
  'reasoning',
  'truncation',
  'parallel_tool_calls',
  'include',
  'metadata',
  'top_p',
  'user',
  'background',
  'text',
  'format',
  'type',
  'status',
  'id',
];
