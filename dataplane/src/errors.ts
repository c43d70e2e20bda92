// Every error the gateway returns has a stable code, an HTTP status and an OpenAI error `type`.
// The table is the documentation: docs/errors.md is checked against it by a test.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

interface ErrorSpec {
  status: number;
  type: ErrorType;
  doc: string;
  /** the `code` OpenAI uses for the same problem, shown in the body instead of Sluice's own */
  publicCode?: string;
  /**
   * A 5xx that no retry can fix: the answer says `x-should-retry: false`, which the openai and
   * Anthropic SDKs read before the status (they retry every other 5xx twice by default).
   */
  permanent?: true;
}

export const ERRORS = {
  SLUICE_ERR_INVALID_JSON: { status: 400, type: 'invalid_request_error', doc: 'The body is not valid JSON.' },
  SLUICE_ERR_INVALID_REQUEST: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'A field is missing or has the wrong type; `param` names it.',
  },
  SLUICE_ERR_JSON_TOO_DEEP: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'The body nests objects/arrays deeper than 128 levels (docs/security.md, "Request bounds").',
  },
  SLUICE_ERR_UNKNOWN_MODEL: {
    status: 404,
    type: 'invalid_request_error',
    publicCode: 'model_not_found',
    doc: 'No route serves the requested model for this caller (body `code`: `model_not_found`, as OpenAI answers).',
  },
  SLUICE_ERR_UNSUPPORTED_FEATURE: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'The chosen provider cannot do what the request asks (tools, vision, embeddings, ...).',
  },
  SLUICE_ERR_CONTENT_FILTERED: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'A policy content filter matched; the message names the rule.',
  },
  SLUICE_ERR_PROMPT_TOO_LONG: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'The prompt exceeds a policy limit or the context window.',
  },
  SLUICE_ERR_UNAUTHENTICATED: {
    status: 401,
    type: 'authentication_error',
    doc: 'No credentials, or credentials that match no namespace.',
  },
  SLUICE_ERR_FORBIDDEN: {
    status: 403,
    type: 'permission_error',
    doc: "The namespace may not use this model (its own model list or a policy). A model only another tenant's routes serve is 404 `SLUICE_ERR_UNKNOWN_MODEL` instead.",
  },
  SLUICE_ERR_NOT_FOUND: { status: 404, type: 'not_found_error', doc: 'No such path.' },
  SLUICE_ERR_RESPONSE_NOT_FOUND: {
    status: 404,
    type: 'invalid_request_error',
    doc: 'No stored response with that id for this caller (Responses API; 400 `previous_response_not_found` when named by `previous_response_id`).',
  },
  SLUICE_ERR_METHOD_NOT_ALLOWED: { status: 405, type: 'invalid_request_error', doc: 'Wrong HTTP method.' },
  SLUICE_ERR_REQUEST_TIMEOUT: {
    status: 408,
    type: 'invalid_request_error',
    doc: 'The request was not received within server.requestReceiveTimeoutMs (slow sender).',
  },
  SLUICE_ERR_BODY_TOO_LARGE: {
    status: 413,
    type: 'invalid_request_error',
    doc: "The request body exceeds server.bodyLimitBytes or the namespace's limits.maxBodyBytes.",
  },
  SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    type: 'invalid_request_error',
    doc: 'The body is not application/json, or is sent in a Content-Encoding (gzip, br, ...): send plain JSON.',
  },
  SLUICE_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    type: 'invalid_request_error',
    doc: 'The request headers exceed server.maxHeaderBytes.',
  },
  SLUICE_ERR_RATE_LIMITED: {
    status: 429,
    type: 'rate_limit_error',
    doc: 'A policy limit was hit; the message names it and `Retry-After` says when to retry.',
  },
  SLUICE_ERR_QUEUE_FULL: {
    status: 429,
    type: 'rate_limit_error',
    doc: 'The provider is at max concurrency and its queue is full.',
  },
  SLUICE_ERR_UPSTREAM_RATE_LIMITED: {
    status: 429,
    type: 'rate_limit_error',
    doc: 'Every backend answered 429 and no fallback succeeded.',
  },
  SLUICE_ERR_UPSTREAM_REJECTED: {
    status: 400,
    type: 'invalid_request_error',
    doc: 'The upstream rejected the request with a 4xx (not 429); its status, `type`, `code`, `param` and message (secrets redacted) are passed on.',
  },
  SLUICE_ERR_INTERNAL: {
    status: 500,
    type: 'server_error',
    doc: 'A bug in Sluice; the request id finds it in the logs.',
  },
  SLUICE_ERR_UPSTREAM_ERROR: {
    status: 502,
    type: 'upstream_error',
    doc: 'The upstream answered with an error or an unreadable response; the message names the provider.',
  },
  SLUICE_ERR_UPSTREAM_CONNECT: {
    status: 502,
    type: 'upstream_error',
    doc: 'The upstream could not be reached (refused, reset, DNS).',
  },
  SLUICE_ERR_EGRESS_DENIED: {
    status: 502,
    type: 'upstream_error',
    permanent: true,
    doc: "The provider's address is refused by the platform's egress policy (config `egress`); the message names the rule.",
  },
  SLUICE_ERR_RESPONSE_TOO_LARGE: {
    status: 502,
    type: 'upstream_error',
    doc: 'The upstream response exceeds server.maxResponseBytes, or one event of its stream exceeds 16 MiB.',
  },
  SLUICE_ERR_NO_HEALTHY_BACKEND: {
    status: 503,
    type: 'upstream_error',
    doc: 'Every backend of the route is ejected by its circuit breaker or failed.',
  },
  SLUICE_ERR_OVERLOADED: {
    status: 503,
    type: 'server_error',
    doc: 'Request and answer bytes in flight reached server.memoryBudgetBytes; retry after `Retry-After`.',
  },
  SLUICE_ERR_STORE_UNAVAILABLE: {
    status: 503,
    type: 'server_error',
    doc: 'The shared limit store is down and the policy fails closed.',
  },
  SLUICE_ERR_LOOP_DETECTED: {
    status: 508,
    type: 'invalid_request_error',
    permanent: true,
    doc: 'The request passed through more Sluice gateways than allowed (`x-sluice-hop`): a provider points back at a gateway.',
  },
  SLUICE_ERR_UPSTREAM_TIMEOUT: {
    status: 504,
    type: 'timeout_error',
    doc: 'The upstream did not answer in time (connect, first byte, idle or total timeout; the message says which).',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Sluice's own code of an error answer (the body keeps the provider's or OpenAI's code). */
export const ERROR_CODE_HEADER = 'x-sluice-error-code';
/** The SDKs' retry hint, read before the status. */
export const SHOULD_RETRY_HEADER = 'x-should-retry';

/**
 * What an upstream said about its error, kept so the client sees the provider's meaning (its `type`,
 * `code` and `param`: clients act on them, e.g. `context_length_exceeded`, `model_not_found`).
 * Always passed through the config's Redactor before it leaves the gateway.
 */
export interface UpstreamErrorFields {
  provider: string;
  /** the upstream's HTTP status (or the status its in-stream error type stands for) */
  status: number;
  type?: string | null;
  code?: string | null;
  param?: string | null;
}

interface GatewayErrorOptions {
  param?: string | null;
  headers?: Record<string, string>;
  cause?: unknown;
  status?: number;
  /** the error body's `code` when it differs from Sluice's own (OpenAI's code for the same problem) */
  publicCode?: string | null;
  upstream?: UpstreamErrorFields;
}

export class GatewayError extends Error {
  /** Sluice's own stable code; clients find it in the `x-sluice-error-code` header */
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  /** the `code` of the error body: the provider's, OpenAI's equivalent, or Sluice's own */
  readonly publicCode: string | null;
  readonly upstream: UpstreamErrorFields | undefined;
  readonly #opts: GatewayErrorOptions;

  constructor(code: ErrorCode, message: string, opts: GatewayErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.#opts = opts;
    this.code = code;
    this.status = opts.status ?? ERRORS[code].status;
    this.type = ERRORS[code].type;
    this.upstream = opts.upstream;
    this.param = opts.param !== undefined ? opts.param : (opts.upstream?.param ?? null);
    // every error answer names Sluice's own code in a header, whichever code its body carries
    this.headers = { ...opts.headers, [ERROR_CODE_HEADER]: code };
    if ((ERRORS[code] as ErrorSpec).permanent) this.headers[SHOULD_RETRY_HEADER] = 'false';
    this.publicCode =
      opts.publicCode !== undefined
        ? opts.publicCode
        : opts.upstream
          ? (opts.upstream.code ?? null)
          : ((ERRORS[code] as ErrorSpec).publicCode ?? code);
  }

  /** the error body's `type`: the provider's when it gave one */
  get publicType(): string {
    return this.upstream?.type ?? this.type;
  }

  /** The same error with another message, param or upstream fields (for redaction). */
  copyWith(change: {
    message: string;
    param: string | null;
    upstream: UpstreamErrorFields | undefined;
  }): GatewayError {
    const copy = new GatewayError(this.code, change.message, {
      ...this.#opts,
      status: this.status,
      param: change.param,
      ...(change.upstream === undefined ? {} : { upstream: change.upstream }),
    });
    return copy;
  }

  /** OpenAI's error shape. */
  toJSON(): { error: { message: string; type: string; code: string | null; param: string | null } } {
    return {
      error: { message: this.message, type: this.publicType, code: this.publicCode, param: this.param },
    };
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
