// Anthropic client (POST /v1/messages) -> Gemini: the Anthropic<->OpenAI conversions composed with the
// OpenAI<->Gemini translator (see anthropic_to_any.ts), so each conversion exists once.
import { anthropicVia } from './anthropic_to_any.ts';
import { openaiChatToGemini } from './openai_to_gemini.ts';

export const anthropicToGemini = anthropicVia(openaiChatToGemini);
