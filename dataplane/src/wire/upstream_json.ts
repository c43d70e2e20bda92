// Parsing an upstream's JSON body: a body that is not JSON is the upstream's fault (502), never a 500.
import { GatewayError } from '../errors.ts';
import type { UpstreamErrorInfo } from '../providers/types.ts';

export function parseUpstreamJson<T>(body: Buffer | string, provider: string): T {
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as T;
  } catch (err) {
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${provider}' returned a body that is not valid JSON`,
      { cause: err },
    );
  }
}

/** An OpenAI-style error `type` for an HTTP status, for upstream errors that carry none of their own. */
export function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/**
 * The error for a failure an upstream reported inside a stream (an OpenAI `error` chunk, Anthropic's
 * `event: error`, a Bedrock exception frame, a Gemini error object): its type/code/param ride along
 * like a non-streamed error's, and the pipeline redacts them with the message.
 */
export function midStreamFailure(
  provider: string,
  detail: string,
  info: Omit<UpstreamErrorInfo, 'message'>,
  status = 502,
): GatewayError {
  return new GatewayError(
    'SLUICE_ERR_UPSTREAM_ERROR',
    `provider '${provider}' failed mid-stream: ${detail}`,
    {
      status,
      upstream: {
        provider,
        status,
        type: info.type ?? null,
        code: info.code ?? null,
        param: info.param ?? null,
      },
    },
  );
}
