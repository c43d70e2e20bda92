// The 429 for an admission the store refused, in the words of the limit that refused it (policy,
// namespace, what it allows, when to retry) with the rate-limit headers. Shared by request admission
// (admit.ts) and requests that reach no upstream (request_rate.ts).
import { GatewayError } from '../errors.ts';
import type { Identity } from '../proxy/policy_interface.ts';
import type { AdmitDenied } from '../store/types.ts';
import { formatDuration } from '../store/windows.ts';
import { type BuiltBatch, describeRate, describeWindow } from './batch.ts';
import type { CompiledNamespace, CompiledPolicy } from './compile.ts';
import { rateLimitHeaders, retryAfter } from './headers.ts';
import type { RateDenials } from './rate_denials.ts';

export function denial(
  ns: string,
  built: BuiltBatch,
  d: AdmitDenied,
  fixedOf: (i: number) => number,
): GatewayError {
  const headers: Record<string, string> = { 'retry-after': retryAfter(d.retryAfterMs) };
  const retry = `Retry in ${formatDuration(d.retryAfterMs)}.`;
  let message: string;
  let kind: string;
  let policy: string;
  if (d.kind === 'rate') {
    const ref = built.rates[d.index] ?? built.rates[0];
    kind = 'requests';
    policy = ref?.policy ?? '?';
    message = `Rate limit reached for namespace '${ns}': policy '${policy}' allows ${ref ? describeRate(ref) : '?'}. ${retry}`;
    Object.assign(
      headers,
      rateLimitHeaders([{ limit: ref?.limit ?? 0, remaining: 0, resetMs: d.retryAfterMs }], []),
    );
  } else if (d.kind === 'concurrency') {
    const ref = built.concurrency[d.index];
    kind = 'concurrency';
    policy = ref?.policy ?? '?';
    message = `Concurrency limit reached for namespace '${ns}': policy '${policy}' allows ${ref?.max ?? '?'} requests in flight. ${retry}`;
  } else {
    const ref = built.windows[d.index];
    const used = d.used ?? 0;
    policy = ref?.policy ?? '?';
    kind = ref?.measure === 'usd' ? 'budget' : 'tokens';
    const needs = fixedOf(d.index);
    const whole = ref !== undefined && needs > ref.limit;
    if (ref?.measure === 'usd') {
      message = `Budget exhausted for namespace '${ns}': policy '${policy}' allows ${describeWindow(ref)}; ${(used / 1e6).toFixed(4)} USD used. ${retry}`;
    } else {
      message = whole
        ? `Request too large for namespace '${ns}': it needs ${needs} tokens but policy '${policy}' allows ${ref ? describeWindow(ref) : '?'} in total.`
        : `Token limit reached for namespace '${ns}': policy '${policy}' allows ${ref ? describeWindow(ref) : '?'}; ${Math.round(used)} used, this request needs ${needs} plus its output. ${retry}`;
      if (ref)
        Object.assign(
          headers,
          rateLimitHeaders([], [{ limit: ref.limit, remaining: ref.limit - used, resetMs: d.retryAfterMs }]),
        );
    }
  }
  headers['x-sluice-limit'] = `${policy}/${kind}`;
  return new GatewayError('SLUICE_ERR_RATE_LIMITED', message, { param: kind, headers });
}

/**
 * The 429 for a batch the store refused. A request rate's refusal is remembered, so the caller's next
 * requests are refused before their bodies are read (rate_denials.ts).
 */
export function deniedByStore(
  ctx: { ns: CompiledNamespace; now(): number; denials?: RateDenials },
  identity: Identity,
  storePolicies: CompiledPolicy[],
  built: BuiltBatch,
  result: AdmitDenied,
): GatewayError {
  const fixedOf = (i: number) => Math.ceil(built.batch.windows[i]?.fixed ?? 0);
  if (result.kind === 'rate' && ctx.denials) {
    const policy = storePolicies.find((p) => p.name === built.rates[result.index]?.policy);
    if (policy)
      ctx.denials.note(identity, policy, result.retryAfterMs, ctx.now(), (retryAfterMs) =>
        denial(ctx.ns.name, built, { ...result, retryAfterMs }, fixedOf),
      );
  }
  return denial(ctx.ns.name, built, result, fixedOf);
}
