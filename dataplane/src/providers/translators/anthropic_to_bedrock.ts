// Anthropic client (POST /v1/messages) -> Bedrock Converse: the Anthropic<->OpenAI conversions composed
// with the OpenAI<->Bedrock translator (see anthropic_to_any.ts), so each conversion exists once.
import { anthropicVia } from './anthropic_to_any.ts';
import { openaiChatToBedrock } from './openai_to_bedrock.ts';

export const anthropicToBedrock = anthropicVia(openaiChatToBedrock);
