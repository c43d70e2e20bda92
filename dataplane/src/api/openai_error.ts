// OpenAI's error body for a gateway error: {"error": {message, type, code, param}}, with the provider's
// type, code and param when the error came from an upstream, and Anthropic-only types renamed to what
// OpenAI calls the same thing (the backend of an OpenAI client may be Anthropic).
import type { GatewayError } from '../errors.ts';

// A Map, not an object: the type is the provider's text, and `OPENAI_TYPE["__proto__"]` on an object
// literal finds Object.prototype (the client got `"type": {}`).
const OPENAI_TYPE = new Map<string, string>([
  ['api_error', 'server_error'],
  ['overloaded_error', 'server_error'],
  ['request_too_large', 'invalid_request_error'],
  ['billing_error', 'insufficient_quota'],
]);

export function openaiErrorJSON(err: GatewayError): string {
  const body = err.toJSON();
  const mapped = OPENAI_TYPE.get(body.error.type);
  if (mapped) body.error.type = mapped;
  return JSON.stringify(body);
}
