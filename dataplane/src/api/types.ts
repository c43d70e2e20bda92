// An inbound client API: how its requests are validated, how its errors look, and where its prompt is.

import type { Runtime } from '../compiled/compile.ts';
import type { GatewayError } from '../errors.ts';
import type { ClientApi, StreamTranslator } from '../providers/types.ts';

/** Where a request is being served: the caller's namespace and the config serving it. */
export interface ExchangeScope {
  namespace: string;
  runtime: Runtime;
}

/** A delivered answer in the client's format: the whole body, or the stream translator that wrote it. */
export type ClientAnswer =
  | { body: Buffer | string /** TranslatedResponse.issuer */; issuer?: string }
  | { stream: StreamTranslator };

export interface ClientRequest {
  model: string;
  stream: boolean;
  /** the parsed body; policies may adjust it (e.g. clamp max tokens) before translation */
  body: Record<string, unknown>;
  /** stream_options.include_usage (or the client API's equivalent) */
  wantsStreamUsage: boolean;
  /** the client headers this API passes on (ClientApiSpec.forwardHeaders), lower-case names */
  forward?: Record<string, string>;
}

export interface ClientApiSpec {
  api: ClientApi;
  /** URL path this API is served on */
  path: string;
  /** Validate a parsed JSON body. Throws GatewayError (400) naming the bad field in `param`. */
  parse(body: unknown): ClientRequest;
  /**
   * Client headers that carry meaning for backends of the same API family and are passed on to them
   * (Anthropic's `anthropic-beta`); every other client header stays at the gateway.
   */
  forwardHeaders?: readonly string[];
  /** The error body in this API's shape. */
  errorBody(err: GatewayError): string;
  /** All prompt text, for token counting, content filters and complexity scoring. */
  promptText(body: Record<string, unknown>): string;
  /** Number of conversation turns (messages), for complexity scoring and token overhead. */
  turns(body: Record<string, unknown>): number;
  getMaxOutputTokens(body: Record<string, unknown>): number | undefined;
  setMaxOutputTokens(body: Record<string, unknown>, n: number): void;
  /**
   * Once the caller is known and before limits are checked: may replace `request.body` (the Responses
   * API expands `previous_response_id` into the whole conversation, which is what gets counted).
   */
  prepare?(request: ClientRequest, scope: ExchangeScope): Promise<void>;
  /** A successful answer is complete, before its last byte is sent (the Responses API stores it). */
  completed?(request: ClientRequest, answer: ClientAnswer, scope: ExchangeScope): Promise<void>;
}
