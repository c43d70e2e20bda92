// A response a native Responses API backend (OpenAI, Azure OpenAI) served with `store` on is kept
// twice: in Sluice's state store and in the provider's own (that copy is what lets the provider link
// the item ids a later turn names; docs/responses.md). DELETE /v1/responses/{id} must remove both, or
// a client that deleted a conversation through Sluice would still have it at the provider for the
// provider's retention. The provider's DELETE comes first: if it fails, Sluice's record stays and
// the client's DELETE fails with it, so a retry can finish the job (a provider's 404 counts as done).
import type { Runtime } from '../compiled/compile.ts';
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
 * Delete response `id` at the provider that issued it. A provider no longer configured (or no longer
 * speaking the Responses API over HTTP) cannot be asked: its copy is the operator's to remove, and
 * Sluice's record goes anyway.
 */
export async function deleteAtIssuer(runtime: Runtime, issuer: string, id: string): Promise<void> {
  const p = runtime.providers.get(issuer);
  if (p?.resolved.preset.transport !== 'http') return;
  if (!p.resolved.preset.pathTemplateByOperation['openai-responses']) return;
  const endpoint = p.endpoints.list.find((e) => e.healthy) ?? p.endpoints.list[0];
  if (!endpoint) throw failed(issuer, 'no endpoint');
  const path = deletePath(p.resolved, id);
  const timeoutMs = Math.min(DELETE_TIMEOUT_MS, p.timeouts.totalMs);
  let status: number;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  try {
    const res = await endpoint.transport.send(
      {
        method: 'DELETE',
        path,
        headers: { accept: 'application/json', ...authHeaders(p.resolved) },
        body: '',
      },
      AbortSignal.timeout(timeoutMs),
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
  } catch (err) {
    throw failed(issuer, 'not reachable', err);
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
