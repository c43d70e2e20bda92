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
    for await (const _ of res.body) {
      // drained so the connection returns to the pool; the answer's body is not needed
    }
    status = res.status;
  } catch (err) {
    throw failed(issuer, 'not reachable', err);
  }
  // 404: the provider no longer has it (deleted there, expired, or never stored): nothing to remove
  if ((status >= 200 && status < 300) || status === 404) return;
  throw failed(issuer, `it answered ${status}`);
}
