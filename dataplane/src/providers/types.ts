// The one interface every client-API -> provider-API translator implements.
// The proxy core only ever talks to these types; it never looks at a provider's name or type.

import type { ModelConfig, ProviderConfig } from '../config/schema.ts';
import type { GatewayError } from '../errors.ts';

/** The inbound API a client speaks. */
export type ClientApi =
  | 'openai-chat'
  | 'openai-completions'
  | 'openai-embeddings'
  | 'anthropic-messages'
  | 'openai-responses';

/** The wire format a provider speaks. OpenAI-compatible presets all map to 'openai'. */
export type BackendApi = 'openai' | 'anthropic' | 'gemini' | 'bedrock';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheCreationInputTokens?: number;
  reasoningTokens?: number;
  /** true when Sluice counted the tokens itself because the provider reported none */
  estimated?: boolean;
}

/** How a provider authenticates; chosen by the preset, applied by the translator. */
export type AuthStyle = 'bearer' | 'api-key' | 'x-api-key' | 'goog-api-key' | 'sigv4' | 'none';

/**
 * What an upstream request is for, which picks its path in a preset: the client API it serves
 * ('openai-chat' on an Anthropic backend is /v1/messages), 'stream' where streaming has its own path
 * (Gemini, Bedrock), 'health' for the health probe.
 */
export type UpstreamOperation = ClientApi | 'stream' | 'health';

/** Static facts about a provider type (OpenAI-compatible presets differ only in these). */
export interface ProviderPreset {
  /** the config `type` value */
  type: string;
  displayName: string;
  api: BackendApi;
  /** 'mock' answers in-process (deterministic, for demos and load tests); 'http' goes over undici */
  transport: 'http' | 'mock';
  defaultBaseUrl?: string;
  auth: AuthStyle;
  /** path template per operation, relative to baseUrl (`{model}`, `{apiVersion}`, `{region}` substituted) */
  pathTemplateByOperation: Partial<Record<UpstreamOperation, string>>;
  /** query string appended to every request, with the same substitutions (e.g. azure's api-version) */
  query?: string;
  /** credential names the provider needs, checked at config load */
  requiredCredentials: string[];
  /** provider-specific behaviours the shared translator honours */
  quirks?: {
    /** provider rejects stream_options (so usage must be counted by Sluice) */
    noStreamOptions?: boolean;
    /** provider uses max_completion_tokens instead of max_tokens */
    maxCompletionTokens?: boolean;
    /** provider knows only max_tokens (max_completion_tokens is rejected or, worse, ignored) */
    legacyMaxTokens?: boolean;
    /** the Responses API path needs at least this api version (older ones go through chat) */
    responsesMinApiVersion?: string;
    /**
     * the most stop sequences the provider takes (OpenAI and Azure: 4); a translated request with more
     * is Sluice's 400 in the client's shape, not the provider's refusal in its words
     */
    maxStopSequences?: number;
    /**
     * the longest function name the provider takes (OpenAI and Azure: 64; Anthropic clients may use
     * 128): a longer one is Sluice's 400 in the client's shape
     */
    maxToolNameLength?: number;
    /**
     * the longest tool call id the provider takes in an earlier turn's `tool_calls` (OpenAI and Azure:
     * 40): a conversation that carried another provider's longer ids (Gemini's carry their thought
     * signature) is sent with digests of them, the same on the call and its result
     */
    maxToolCallIdLength?: number;
    /** features the provider does not support; requests that use them get a 400 naming the provider */
    unsupported?: Array<'tools' | 'vision' | 'json' | 'embeddings' | 'completions'>;
  };
  defaultApiVersion?: string;
  /** header that carries the API version on every request (anthropic-version), health probes included */
  versionHeader?: string;
  defaultModels?: string[];
}

/** A provider as the core sees it after config load: config + preset + resolved secrets. */
export interface ResolvedProvider {
  name: string;
  config: ProviderConfig;
  preset: ProviderPreset;
  baseUrl: string;
  /** origin (scheme://host:port) used as the undici pool key */
  origin: string;
  /** path prefix of baseUrl, without trailing slash */
  basePath: string;
  credentials: Readonly<Record<string, string>>;
  models: ReadonlyMap<string, ModelConfig>;
  /**
   * the provider's rate-limit headers reach clients (resolved at load from config rateLimitHeaders
   * and the namespaces that can reach it; absent = no)
   */
  passRateLimitHeaders?: boolean;
}

export interface TranslateContext {
  provider: ResolvedProvider;
  /** model name sent upstream (after route rename) */
  upstreamModel: string;
  /** model name the client asked for (echoed back to the client) */
  clientModel: string;
  clientApi: ClientApi;
  stream: boolean;
  requestId: string;
  /** the client asked for usage in the stream (stream_options.include_usage); otherwise Sluice strips it */
  clientWantsStreamUsage: boolean;
  /** client headers the client API passes on to backends of its family (e.g. anthropic-beta) */
  forward?: Readonly<Record<string, string>>;
}

export interface UpstreamRequest {
  /** DELETE: a stored response removed at its issuer (responses/issuer_delete.ts) */
  method: 'POST' | 'GET' | 'DELETE';
  /** path + query, relative to the provider origin */
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
}

export interface TranslatedResponse {
  /** client-format body */
  body: string | Buffer;
  usage: Usage | undefined;
  /** normalised finish reason if known (stop, length, tool_calls, content_filter) */
  finishReason?: string;
  /**
   * The provider whose own store issued the answer's item ids (a native Responses API backend): a
   * later turn may name those ids to it, and to no other backend.
   */
  issuer?: string;
}

/** One piece of client-format stream output, plus what the core needs to account for it. */
export interface StreamEvent {
  /** bytes to write to the client as-is ('' to write nothing) */
  data: string | Buffer;
  /** generated text carried by this event (for output token counting and caps) */
  text?: string;
  /** usage reported by the upstream in this event */
  usage?: Usage;
  /** the upstream signalled a clean end of the answer */
  done?: boolean;
  /**
   * the answer is complete at this event although the upstream goes on (a stop sequence Sluice
   * enforces): the core stops reading, which cancels the upstream request
   */
  stopsUpstream?: boolean;
}

export interface StreamTranslator {
  /** feed upstream bytes; returns client-format events (possibly none while a frame is incomplete) */
  push(chunk: Buffer): StreamEvent[];
  /** upstream ended; returns trailing events. Throws GatewayError if the stream ended without its terminal event. */
  end(): StreamEvent[];
  /**
   * client-format bytes for a text-only delta (used when the core trims a delta at a token cap).
   * `cut` is the event whose text was trimmed: none of its data reached the client, nor did any event
   * after it. Stateful formats (Anthropic content blocks) use it to continue from what the client saw.
   */
  textChunk(text: string, cut?: StreamEvent): string;
  /** client-format closing sequence when the core stops the answer early (token cap): finish 'length' + usage + end marker */
  finish(reason: 'length', usage: Usage, cut?: StreamEvent): string;
  /** client-format error event for a failure after bytes reached the client */
  errorEvent(err: GatewayError): string;
}

/** What an upstream error body says, field by field (the client sees them after redaction). */
export interface UpstreamErrorInfo {
  message: string;
  /** the provider's error type (OpenAI/Anthropic `type`), or one derived from the HTTP status */
  type?: string;
  /** the provider's machine-readable code (OpenAI `code`, Gemini `status`, Bedrock `__type`) */
  code?: string | null;
  /** the request field the provider blames (OpenAI `param`) */
  param?: string | null;
}

/** An upstream response's headers, as the transport gives them. */
export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface Translator {
  readonly clientApi: ClientApi;
  readonly backendApi: BackendApi;
  /**
   * buildRequest never mutates the body it is given, nor anything inside it. The core then hands it
   * the client's parsed body directly instead of a deep copy per attempt (a retry or fallback must see
   * the body exactly as the client sent it, so translators that edit in place leave this unset).
   */
  readonly leavesBodyIntact?: boolean;
  /** Build the upstream request from the client's parsed body. Throws GatewayError (400) for unsupported features. */
  buildRequest(
    body: Record<string, unknown>,
    ctx: TranslateContext,
  ): UpstreamRequest | Promise<UpstreamRequest>;
  /** Translate a successful (2xx) non-streaming upstream body into the client's format. */
  parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse;
  /** Make a stateful translator for one streaming response. */
  createStream(ctx: TranslateContext): StreamTranslator;
  /**
   * Extract a readable message from an upstream error body (never echoing credentials). `headers` are
   * the error response's: some providers name the error only there (Bedrock's x-amzn-errortype).
   */
  parseError(
    status: number,
    body: Buffer,
    ctx: TranslateContext,
    headers?: UpstreamHeaders,
  ): UpstreamErrorInfo;
}
