// Anthropic client (POST /v1/messages) -> Gemini: the Anthropic<->OpenAI conversions composed with the
// OpenAI<->Gemini translator (see anthropic_via_openai.ts), so each conversion exists once.
import { anthropicVia } from './anthropic_via_openai.ts';
import { openaiChatToGemini } from './openai_gemini.ts';

export const anthropicToGemini = anthropicVia(openaiChatToGemini);
