// Anthropic client (POST /v1/messages) -> Bedrock Converse: the Anthropic<->OpenAI conversions composed
// with the OpenAI<->Bedrock translator (see anthropic_via_openai.ts), so each conversion exists once.
import { anthropicVia } from './anthropic_via_openai.ts';
import { openaiChatToBedrock } from './openai_bedrock.ts';

export const anthropicToBedrock = anthropicVia(openaiChatToBedrock);
