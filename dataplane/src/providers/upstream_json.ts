// Parsing an upstream's JSON body: a body that is not JSON is the upstream's fault (502), never a 500.
import { GatewayError } from '../errors.ts';

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
