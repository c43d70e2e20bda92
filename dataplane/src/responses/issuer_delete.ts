// A response a native Responses API backend (OpenAI, Azure OpenAI) served with `store` on is kept
// twice: in Sluice's state store and in the provider's own (that copy is what lets the provider link
// the item ids a later turn names; docs/responses.md). DELETE /v1/responses/{id} must remove both, or
// a client that deleted a conversation through Sluice would still have it at the provider for the
// provider's retention. The provider's DELETE comes first: if it fails, Sluice's record stays and
// the client's DELETE fails with it, so a retry can finish the job (a provider's 404 counts as done).
// The call is a request to the provider like an attempt: it takes a slot (an endpoint the breaker lets
// through, the caller's turn under `maxConcurrency`, its tenant's share of the endpoint's connections)
// and gives its outcome to the breaker. It went straight to an endpoint: a tenant deleting its stored
// responses at once put any number of requests on a provider configured for two at a time.

import type { Runtime } from '../compiled/compile.ts';
import type { SlotOutcome } from '../compiled/provider_runtime.ts';
import { GatewayError } from '../errors.ts';
import { authHeaders, upstreamPath } from '../providers/request_parts.ts';
import type { ResolvedProvider } from '../providers/types.ts';

/** The bound on the provider's answer to a DELETE (its body is a small JSON object or an error). */
const DELETE_TIMEOUT_MS = 10_000;

/** The most of a 404's body read to tell "no such response" from "no such path" (an error is small). */
const MAX_NOT_FOUND_BYTES = 16 * 1024;

function failed(provider: string, detail: string, cause?: unknown): GatewayError {
  return new GatewayError(
    'SLUICE_ERR_UPSTREAM_ERROR',
    `the response could not be deleted at provider '${provider}' (${detail}); it is still stored, retry the DELETE`,
    { cause },
  );
}

/** `/v1/responses/{id}`, or Azure's `/openai/responses/{id}?api-version=...`: the id before the query. */
export function deletePath(provider: ResolvedProvider, id: string): string {
  const base = upstreamPath(provider, 'openai-responses', '');
  const q = base.indexOf('?');
  const segment = `/${encodeURIComponent(id)}`;
  return q < 0 ? base + segment : base.slice(0, q) + segment + base.slice(q);
}

/**
 * Does a 404's body say the response is gone? OpenAI and Azure name it: "Response with id 'resp_...'
 * not found.". Any other 404 says the request never reached the Responses API (Azure's "Resource not
 * found" for a path or api-version it does not serve, OpenAI's "Invalid URL (DELETE ...)", a proxy's
 * page), and the provider may still hold the response: that is not a deletion.
 */
function namesMissingResponse(body: Buffer, id: string): boolean {
  try {
    const message = (JSON.parse(body.toString('utf8')) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' && message.includes(`'${id}'`);
  } catch {
    return false;
  }
}

/**
 * Delete response `id` at the provider that issued it, for the caller's tenant `namespace`. A provider
 * no longer configured (or no longer speaking the Responses API over HTTP) cannot be asked: its copy
 * is the operator's to remove, and Sluice's record goes anyway.
 */
export async function deleteAtIssuer(
  runtime: Runtime,
  issuer: string,
  id: string,
  namespace: string,
): Promise<void> {
  const p = runtime.providers.get(issuer);
  if (p?.resolved.preset.transport !== 'http') return;
  if (!p.resolved.preset.pathTemplateByOperation['openai-responses']) return;
  // as an attempt names its tenant: '' when the replica serves one (exchange.ts)
  const tenant = runtime.config.namespaces.length > 1 ? namespace : '';
  const slot = p.acquire({ promptText: () => '', random: Math.random, tenant }, undefined);
  if (!slot) throw failed(issuer, 'no endpoint can take a request now');
  const path = deletePath(p.resolved, id);
  const timeoutMs = Math.min(DELETE_TIMEOUT_MS, p.timeouts.totalMs);
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  // until the request is sent, nothing is the provider's doing (a full queue, a turn that came late)
  let outcome: SlotOutcome = 'neutral';
  try {
    // a full queue is the provider's 503 SLUICE_ERR_QUEUE_FULL, as for any request; the record stays
    await slot.waitTurn(signal, issuer);
    outcome = 'failure';
    const res = await slot.endpoint.transport.send(
      {
        method: 'DELETE',
        path,
        headers: { accept: 'application/json', ...authHeaders(p.resolved) },
        body: '',
      },
      signal,
      { ...p.timeouts, firstByteMs: Math.min(p.timeouts.firstByteMs, timeoutMs), totalMs: timeoutMs },
    );
    for await (const chunk of res.body) {
      // drained so the connection returns to the pool; a 404's start is kept (namesMissingResponse)
      if (res.status === 404 && keptBytes < MAX_NOT_FOUND_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
    }
    status = res.status;
    // a 4xx other than 404 says nothing of the provider's health
    outcome = status >= 500 || status === 429 ? 'failure' : status < 300 || status === 404 ? 'ok' : 'neutral';
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw failed(issuer, outcome === 'neutral' ? 'its turn did not come in time' : 'not reachable', err);
  } finally {
    slot.release(outcome);
  }
  if (status >= 200 && status < 300) return;
  // 404 naming the response: the provider no longer has it (deleted there, expired): nothing to remove
  if (status === 404) {
    if (namesMissingResponse(Buffer.concat(kept).subarray(0, MAX_NOT_FOUND_BYTES), id)) return;
    throw failed(
      issuer,
      'it answered 404 for its Responses path, not for the response: check its baseUrl and apiVersion',
    );
  }
  throw failed(issuer, `it answered ${status}`);
}
