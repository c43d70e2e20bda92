// Sending one upstream request. HTTP goes over an undici Pool per origin (keep-alive, pipelining off,
// pools survive config reloads); the built-in mock answers in-process. Timeouts: connect is undici's
// connect.timeout; first byte (of the body: the first token of a stream) and idle between reads are
// kept by the dispatch handler (upstream_call.ts); total is a cancel signal (cancellation.ts). Every failure becomes a GatewayError that says which timeout or what broke.
import { Pool } from 'undici';
import { GatewayError } from '../errors.ts';
import type { UpstreamRequest } from '../providers/types.ts';
import type { CancelSignal } from './cancellation.ts';
import { guardedConnector } from './egress.ts';
import type { UpstreamBody } from './upstream_body.ts';
import { callUpstream } from './upstream_call.ts';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** read whole (readAll) or as an iterator; destroy() cancels the upstream request */
  body: UpstreamBody;
}

export interface EffectiveTimeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
  totalMs: number;
}

export interface Transport {
  send(req: UpstreamRequest, signal: CancelSignal, timeouts: EffectiveTimeouts): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** Map an undici/network error to the documented gateway error. */
export function upstreamFailure(err: unknown, provider: string, timeouts: EffectiveTimeouts): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code ?? '';
  const name = (err as { name?: string }).name ?? '';
  const cause = { cause: err };
  switch (code) {
    case 'SLUICE_EGRESS_DENIED':
      return new GatewayError(
        'SLUICE_ERR_EGRESS_DENIED',
        `provider '${provider}': ${(err as Error).message}`,
        cause,
      );
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new GatewayError(
        'SLUICE_ERR_UPSTREAM_TIMEOUT',
        `provider '${provider}': connect timeout after ${timeouts.connectMs} ms`,
        cause,
      );
    case 'SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT':
      return new GatewayError(
        'SLUICE_ERR_UPSTREAM_TIMEOUT',
        `provider '${provider}': no response (first byte) within ${timeouts.firstByteMs} ms`,
        cause,
      );
    case 'SLUICE_UPSTREAM_IDLE_TIMEOUT':
      return new GatewayError(
        'SLUICE_ERR_UPSTREAM_TIMEOUT',
        `provider '${provider}': stream idle for more than ${timeouts.idleMs} ms`,
        cause,
      );
    default:
      break;
  }
  if (name === 'TimeoutError') {
    return new GatewayError(
      'SLUICE_ERR_UPSTREAM_TIMEOUT',
      `provider '${provider}': total timeout of ${timeouts.totalMs} ms exceeded`,
      cause,
    );
  }
  const detail = code || name || 'error';
  return new GatewayError(
    'SLUICE_ERR_UPSTREAM_CONNECT',
    `provider '${provider}': connection failed (${detail})`,
    cause,
  );
}

export class HttpTransport implements Transport {
  readonly #pool: Pool;

  /** `egressName`: the name the origin's address was discovered under (egress.ts guardedConnector) */
  constructor(origin: string, connections: number, connectTimeoutMs: number, egressName?: string) {
    this.#pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      // the platform's egress policy, checked on every address the host resolves to (egress.ts)
      connect: guardedConnector(connectTimeoutMs, egressName),
    });
  }

  send(req: UpstreamRequest, signal: CancelSignal, timeouts: EffectiveTimeouts): Promise<UpstreamResponse> {
    // dispatch with our own handler, not pool.request(): see upstream_call.ts for why
    return callUpstream(
      this.#pool,
      {
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.method === 'POST' ? req.body : null,
      },
      signal,
      timeouts,
    );
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}
