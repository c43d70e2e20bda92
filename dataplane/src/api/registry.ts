// The inbound APIs the dataplane serves. Adding one is an entry here plus its translators.
import { anthropicMessages } from './anthropic.ts';
import { openaiChat, openaiCompletions, openaiEmbeddings } from './openai.ts';
import { openaiResponses } from './responses.ts';
import type { ClientApiSpec } from './types.ts';

export const clientApis: ClientApiSpec[] = [
  openaiChat,
  openaiCompletions,
  openaiEmbeddings,
  anthropicMessages,
  openaiResponses,
];
