// Requests that reach no upstream are requests too: reading or deleting a stored response (GET/DELETE
// /v1/responses/{id}, .../input_items) and counting tokens (POST /v1/messages/count_tokens) count
// against the namespace's `requests` rates, as OpenAI counts every call in its RPM. They used to count
// against nothing, and each parses up to megabytes of JSON on the event loop (a stored record up to
// responses.maxRecordBytes, a prompt up to the body limit): a tenant limited to 3 requests a minute
// fetched its own 7 MB record ~60 times a second and another tenant's requests waited ~110 ms instead
// of ~4 ms (test/adversarial/tenant_attacks.test.ts). Only rates apply (no tokens, budget or upstream
// slot are used), and only rates of policies that apply to every request (no route or model scope).
// Once refused, the caller is refused before the store is asked (rate_denials.ts).
import type { Identity } from '../proxy/policy_interface.ts';
import type { Store } from '../store/types.ts';
import { buildBatch, reservationId } from './batch.ts';
import type { CompiledNamespace, CompiledPolicy } from './compile.ts';
import { deniedByStore } from './denial.ts';
import type { RateDenials } from './rate_denials.ts';

/** Each namespace's request-rate policies that apply to every request, reduced to their rate. */
const ratesByNamespace = new WeakMap<CompiledNamespace, CompiledPolicy[]>();

function requestRates(ns: CompiledNamespace): CompiledPolicy[] {
  let rates = ratesByNamespace.get(ns);
  if (!rates) {
    rates = ns.policies
      .filter((p) => p.config.requests && !p.config.scope?.routes && !p.config.scope?.models)
      .map((p) => ({
        ...p,
        config: { name: p.config.name, requests: p.config.requests, scope: p.config.scope },
        needsTokens: false,
      }));
    ratesByNamespace.set(ns, rates);
  }
  return rates;
}

export interface RateContext {
  ns: CompiledNamespace;
  store: Store;
  denials: RateDenials;
  now(): number;
}

/** Resolves when the request may run; rejects with the 429 an admission would give. */
export async function admitRequestRate(ctx: RateContext, identity: Identity): Promise<void> {
  const now = ctx.now();
  const known = ctx.denials.refusal(identity, now);
  if (known) throw known;
  const policies = requestRates(ctx.ns);
  if (policies.length === 0) return;
  const built = buildBatch({
    namespace: ctx.ns.name,
    caller: identity.caller,
    policies,
    inputTokens: 0,
    prices: undefined,
    wantOutput: 0,
    now,
    requestId: reservationId(),
  });
  const { result } = await ctx.store.admit(built.batch);
  if (!result.ok) throw deniedByStore(ctx, identity, policies, built, result);
}
