// Anthropic's error envelope both ways: the `{"type":"error","error":{type,message}}` body and
// `event: error` frame Sluice writes to Anthropic clients, the HTTP status <-> error `type` mapping
// Anthropic documents, and reading an Anthropic upstream's error body or mid-stream error event.
import type { GatewayError } from '../../errors.ts';
import type { UpstreamErrorInfo } from '../../providers/types.ts';
import { midStreamFailure } from '../upstream_json.ts';
import type { AnthropicStreamEvent } from './format.ts';

/** Anthropic's error `type` for an HTTP status, as its documentation lists them. */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
    case 431:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** The HTTP status Anthropic uses for an error `type` (for errors that arrive inside a stream). */
export function statusForAnthropicErrorType(type: string | undefined): number {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 529;
    case 'timeout_error':
      return 504;
    default:
      return 500;
  }
}

/**
 * Anthropic's error envelope for a gateway error. Sluice's stable code rides in `error.details`, the
 * place Anthropic uses for its own machine-readable codes (the SDKs expose it as `err.errorCode`).
 */
export function anthropicErrorJSON(err: GatewayError): string {
  // the provider's (or OpenAI's) code and param; Sluice's own code is in the x-sluice-error-code header
  const details: Record<string, string> = {};
  if (err.publicCode !== null) details.error_code = err.publicCode;
  if (err.param) details.param = err.param;
  // an Anthropic upstream's type as it is; another family's (OpenAI's server_error, ...) and Sluice's
  // own errors by status
  const type =
    err.upstream && ANTHROPIC_ERROR_TYPES.has(err.publicType)
      ? err.publicType
      : anthropicErrorType(err.status);
  return JSON.stringify({ type: 'error', error: { type, message: err.message, details } });
}

const ANTHROPIC_ERROR_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'billing_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'timeout_error',
  'overloaded_error',
]);

/** The `event: error` frame Anthropic sends when a stream fails after it started. */
export function anthropicErrorFrame(err: GatewayError): string {
  return `event: error\ndata: ${anthropicErrorJSON(err)}\n\n`;
}

/** Readable message from an Anthropic error body (`{"type":"error","error":{type,message}}`). */
export function parseAnthropicError(status: number, body: Buffer): UpstreamErrorInfo {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as {
      error?: { type?: unknown; message?: unknown; details?: { error_code?: unknown; param?: unknown } };
    };
    const e = parsed.error;
    if (e && typeof e.message === 'string') {
      const info: UpstreamErrorInfo = {
        message: e.message,
        type: typeof e.type === 'string' ? e.type : anthropicErrorType(status),
      };
      // Anthropic's type is its code too; newer answers carry a finer one in details.error_code
      const detail = e.details?.error_code;
      info.code = typeof detail === 'string' ? detail : (info.type ?? null);
      if (typeof e.details?.param === 'string') info.param = e.details.param;
      return info;
    }
  } catch {
    // not JSON (a proxy's HTML page, say): fall through to the status line
  }
  return { message: `HTTP ${status}`, type: anthropicErrorType(status) };
}

/** A GatewayError for an `event: error` frame in an upstream Anthropic stream. */
export function streamErrorFromAnthropic(provider: string, ev: AnthropicStreamEvent): GatewayError {
  const type = ev.error?.type ?? 'api_error';
  const detail = (ev.error as { details?: { error_code?: unknown } } | undefined)?.details?.error_code;
  return midStreamFailure(
    provider,
    `${type}: ${ev.error?.message ?? 'unknown error'}`,
    { type, code: typeof detail === 'string' ? detail : type },
    statusForAnthropicErrorType(type),
  );
}
