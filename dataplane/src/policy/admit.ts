// One request through its namespace's policies, cheapest checks first:
//   prompt length and content filters (no tokenizing) -> max output tokens (clamp or reject) ->
//   input tokens (counted off the event loop when large) and max input tokens ->
//   one atomic store batch for request rates, concurrency and token/cost windows, reserving the input
//   plus the output the request may produce -> headers, stream cap and cache key.
// Admission.complete reconciles every window with the real usage, so reservations never leak.
import { nonTextTokens, tokenArrayText, tokenArrayTokens } from '../api/prompt_extras.ts';
import type { ClientApiSpec } from '../api/types.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import { type ErrorCode, GatewayError } from '../errors.ts';
import { metrics } from '../observability/metrics.ts';
import type { Usage } from '../providers/types.ts';
import { upstreamModel } from '../proxy/balancer.ts';
import type { Admission, AdmitInput, Completion } from '../proxy/policy_interface.ts';
import type { Placement, SettleBatch, Store } from '../store/types.ts';
import { ASYNC_MIN_CHARS, countPromptTokensAsync } from '../tokens/pool.ts';
import { actualAmount, type BuiltBatch, buildBatch, reservationId } from './batch.ts';
import type { CompiledNamespace, CompiledPolicy } from './compile.ts';
import { firstMatchingFilter } from './content_scan.ts';
import { estimateCorrection } from './correction.ts';
import { deniedByStore } from './denial.ts';
import { type LimitStatus, rateLimitHeaders } from './headers.ts';
import { costMicroUsd, type PriceBook } from './pricing.ts';
import type { RateDenials } from './rate_denials.ts';

/** Output reserved when neither the request, the policy nor the model config says how much. */
export const DEFAULT_OUTPUT_RESERVATION = 4096;

export interface AdmitContext {
  ns: CompiledNamespace;
  store: Store;
  prices: PriceBook;
  /** the cache key for this request, or undefined when the cache does not apply */
  cacheKey(
    ns: CompiledNamespace,
    route: CompiledRoute,
    spec: ClientApiSpec,
    body: Record<string, unknown>,
  ): string | undefined;
  now(): number;
  /** request rates this config's callers ran out of (refused before their body next time) */
  denials?: RateDenials;
}

/**
 * Completions the upstream will generate, each up to max_tokens: OpenAI's `n` (chat, completions) and
 * `best_of` (completions: generated server-side and billed even though only `n` are returned).
 */
function choicesOf(body: Record<string, unknown>): number {
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v > 1 ? v : 1);
  return Math.max(count(body.n), count(body.best_of));
}

/** Input that is not prompt text: embeddings' token ids (exact) and images, audio, files (estimates). */
function nonText(spec: ClientApiSpec, body: Record<string, unknown>): number {
  return spec.api === 'openai-embeddings' ? tokenArrayTokens(body.input) : nonTextTokens(body);
}

function promptParam(spec: ClientApiSpec): string {
  if (spec.api === 'openai-completions') return 'prompt';
  if (spec.api === 'openai-embeddings') return 'input';
  return 'messages';
}

function reject(ns: string, kind: string, code: ErrorCode, message: string, param: string): GatewayError {
  metrics.limitRejections.inc({ namespace: ns, limit: kind });
  return new GatewayError(code, message, { param });
}

async function checkPrompt(
  ns: CompiledNamespace,
  policies: CompiledPolicy[],
  input: AdmitInput,
): Promise<void> {
  let text = input.promptText();
  // embeddings given as token ids: filters see the text they decode to
  if (input.spec.api === 'openai-embeddings') {
    const ids = tokenArrayText(input.request.body.input);
    if (ids) text = text ? `${text}\n${ids}` : ids;
  }
  const param = promptParam(input.spec);
  for (const p of policies) {
    const max = p.config.maxPromptChars;
    if (max !== undefined && text.length > max)
      throw reject(
        ns.name,
        'max_prompt_chars',
        'SLUICE_ERR_PROMPT_TOO_LONG',
        `the prompt has ${text.length} characters; policy '${p.name}' allows ${max}`,
        param,
      );
    // long prompts are scanned off the event loop, tenants in turn (content_scan.ts)
    const f = await firstMatchingFilter(ns.name, p.filters, text);
    if (f)
      throw reject(
        ns.name,
        'content_filter',
        'SLUICE_ERR_CONTENT_FILTERED',
        `the prompt was blocked by content filter '${f.name}' of policy '${p.name}'`,
        param,
      );
  }
}

/** Applies max output token policies; returns the cap they set, if any. */
function capOutput(ns: CompiledNamespace, policies: CompiledPolicy[], input: AdmitInput): number | undefined {
  const { spec, request } = input;
  const requested = spec.getMaxOutputTokens(request.body);
  let cap: number | undefined;
  for (const p of policies) {
    const m = p.config.maxOutputTokens;
    if (!m) continue;
    if (m.mode === 'reject' && requested !== undefined && requested > m.limit)
      throw reject(
        ns.name,
        'max_output_tokens',
        'SLUICE_ERR_INVALID_REQUEST',
        `max output tokens ${requested} exceeds the ${m.limit} allowed by policy '${p.name}'`,
        request.body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens',
      );
    cap = Math.min(cap ?? m.limit, m.limit);
  }
  if (cap !== undefined && (requested === undefined || requested > cap))
    spec.setMaxOutputTokens(request.body, cap);
  return cap;
}

/** How much output to reserve when the request names no maximum, and whether that is a safe body cap. */
function defaultReservation(
  policies: CompiledPolicy[],
  route: CompiledRoute,
  model: string,
): { tokens: number; known: boolean } {
  let fromPolicy: number | undefined;
  for (const p of policies) {
    const r = p.config.reserveOutputTokens;
    if (r) fromPolicy = Math.min(fromPolicy ?? r, r);
  }
  if (fromPolicy !== undefined) return { tokens: fromPolicy, known: true };
  const first = route.balancer.backends[0];
  const fromModel = first
    ? first.provider.modelConfig(upstreamModel(first, model))?.maxOutputTokens
    : undefined;
  return fromModel
    ? { tokens: fromModel, known: true }
    : { tokens: DEFAULT_OUTPUT_RESERVATION, known: false };
}

export async function admitRequest(ctx: AdmitContext, input: AdmitInput): Promise<Admission> {
  const { ns } = ctx;
  const { route, spec, request } = input;
  const policies = ns.policies.filter((p) => p.appliesTo(route.name, request.model));
  const producesOutput = spec.api !== 'openai-embeddings';

  // The checks that may wait (content filters, a large prompt's count) are awaited only when they
  // apply: an async function's promise and its turn of the microtask queue on every request were
  // most of what a limited request allocated before its store call (bench/alloc.ts --profile).
  if (policies.some(checksPrompt)) await checkPrompt(ns, policies, input);
  const outputCap = producesOutput ? capOutput(ns, policies, input) : undefined;
  let counted: Counted | undefined;
  if (policies.some(needsTokens)) {
    const text = input.promptText();
    counted =
      text.length >= ASYNC_MIN_CHARS
        ? countedInput(ns, policies, input, await countLarge(ns, input, text))
        : countedInput(ns, policies, input, input.inputTokens());
  }
  const storePolicies = policies.filter(needsStore);
  const reserved =
    storePolicies.length > 0
      ? await reserve(ctx, storePolicies, policies, input, counted?.inputTokens ?? 0, outputCap)
      : undefined;
  return admission(ctx, input, {
    outputCap: reserved ? reserved.outputCap : outputCap,
    choices: reserved ? reserved.choices : producesOutput ? choicesOf(request.body) : 1,
    headers: reserved?.headers ?? {},
    rawEstimate: counted?.rawEstimate,
    reserved,
  });
}

const checksPrompt = (p: CompiledPolicy) => p.config.maxPromptChars !== undefined || p.filters.length > 0;
const needsTokens = (p: CompiledPolicy) => p.needsTokens;
const needsStore = (p: CompiledPolicy) => p.needsStore;

interface Counted {
  inputTokens: number;
  rawEstimate: number | undefined;
}

/** A large prompt's tokens, counted off the event loop (tokens/pool.ts), tenants in turn. */
function countLarge(ns: CompiledNamespace, input: AdmitInput, text: string): Promise<number> {
  const { spec, request, encoding } = input;
  return countPromptTokensAsync(text, spec.turns(request.body), encoding, ns.name);
}

/** The prompt's tokens as limits count them (corrected estimates, non-text parts), against max input. */
function countedInput(
  ns: CompiledNamespace,
  policies: CompiledPolicy[],
  input: AdmitInput,
  raw: number,
): Counted {
  const { spec, request, encoding } = input;
  const model = request.model;
  const inputTokens =
    (encoding === 'estimate' ? estimateCorrection.apply(ns.name, model, raw) : raw) +
    nonText(spec, request.body);
  for (const p of policies) {
    const max = p.config.maxInputTokens;
    if (max !== undefined && inputTokens > max)
      throw reject(
        ns.name,
        'max_input_tokens',
        'SLUICE_ERR_PROMPT_TOO_LONG',
        `the prompt has ${inputTokens} tokens; policy '${p.name}' allows ${max}`,
        promptParam(spec),
      );
  }
  return { inputTokens, rawEstimate: encoding === 'estimate' ? raw : undefined };
}

interface Reserved {
  built: BuiltBatch;
  placement: Placement;
  /** output tokens the store granted (per choice) */
  grant: number;
  choices: number;
  outputCap: number | undefined;
  headers: Record<string, string>;
  /** exactly what the store charged each window (the same arithmetic as its admit), for the deltas */
  charged: number[];
}

/**
 * One atomic store batch for rates, concurrency and token/cost windows, reserving the input plus the
 * output the request may produce; the upstream is told the grant.
 */
async function reserve(
  ctx: AdmitContext,
  storePolicies: CompiledPolicy[],
  policies: CompiledPolicy[],
  input: AdmitInput,
  inputTokens: number,
  cap: number | undefined,
): Promise<Reserved> {
  const { ns } = ctx;
  const { route, spec, request } = input;
  const model = request.model;
  const producesOutput = spec.api !== 'openai-embeddings';
  const requestedOut = producesOutput ? spec.getMaxOutputTokens(request.body) : undefined;
  const fallback = defaultReservation(policies, route, model);
  const wantOutput = producesOutput ? (requestedOut ?? fallback.tokens) : 0;
  const choices = producesOutput ? choicesOf(request.body) : 1;
  const built = buildBatch({
    namespace: ns.name,
    caller: input.identity.caller,
    policies: storePolicies,
    inputTokens,
    prices: storePolicies.some((p) => p.config.budget) ? ctx.prices.reservePrices(route, model) : undefined,
    wantOutput,
    choices,
    now: ctx.now(),
    requestId: reservationId(),
  });
  let admitted: Awaited<ReturnType<Store['admit']>>;
  try {
    admitted = await ctx.store.admit(built.batch);
  } catch (err) {
    if (err instanceof GatewayError)
      metrics.limitRejections.inc({ namespace: ns.name, limit: 'store_unavailable' });
    throw err;
  }
  const { result } = admitted;
  if (!result.ok) throw deniedByStore(ctx, input.identity, storePolicies, built, result);
  const grant = result.grant;
  let outputCap = cap;
  if (built.batch.wantOutput > 0) {
    outputCap = Math.min(outputCap ?? grant, grant);
    // The upstream is told the grant (and the answer is still cut to it if it ignores that). A
    // request without a maximum keeps its body when it got the full reservation of an unknown
    // model limit.
    if (
      !request.stream &&
      (requestedOut !== undefined ? grant < requestedOut : grant < wantOutput || fallback.known)
    )
      spec.setMaxOutputTokens(request.body, grant);
  }
  const headers: Record<string, string> = {};
  const requests: LimitStatus[] = built.rates.map((r, i) => ({
    limit: r.limit,
    remaining: result.rates[i]?.remaining ?? 0,
    resetMs: result.rates[i]?.resetMs ?? 0,
  }));
  const tokens: LimitStatus[] = [];
  built.windows.forEach((w, i) => {
    const remaining = w.limit - (result.windowsUsed[i] ?? 0);
    const resetMs = built.batch.windows[i]?.resetMs ?? 0;
    if (w.measure === 'usd')
      headers['x-sluice-budget-remaining-usd'] = (Math.max(0, remaining) / 1e6).toFixed(6);
    else tokens.push({ limit: w.limit, remaining, resetMs });
  });
  Object.assign(headers, rateLimitHeaders(requests, tokens));
  const charged = built.batch.windows.map((w) => w.fixed + w.perOutput * grant);
  return { built, placement: admitted.placement, grant, choices, outputCap, headers, charged };
}

/** The admission handed to the request path; complete() settles every window with the real usage. */
function admission(
  ctx: AdmitContext,
  input: AdmitInput,
  a: {
    outputCap: number | undefined;
    choices: number;
    headers: Record<string, string>;
    rawEstimate: number | undefined;
    reserved: Reserved | undefined;
  },
): Admission {
  const { route, spec, request } = input;
  const model = request.model;
  const { outputCap, rawEstimate, reserved } = a;
  return {
    headers: a.headers,
    // A stream's cap counts the output of all choices together; a whole answer is cut per choice.
    outputCap: request.stream && outputCap !== undefined ? outputCap * a.choices : undefined,
    answerCap:
      !request.stream && outputCap !== undefined
        ? { tokens: outputCap, encoding: input.encoding }
        : undefined,
    cacheKey: request.stream ? undefined : ctx.cacheKey(ctx.ns, route, spec, request.body),
    complete(usage: Usage | undefined, done: Completion | undefined) {
      // A failure or a cache hit used no upstream tokens: every reservation is refunded.
      const real = done && !done.cached ? usage : undefined;
      if (real && !real.estimated && rawEstimate !== undefined)
        estimateCorrection.observe(ctx.ns.name, model, rawEstimate, real.inputTokens);
      if (!reserved) return;
      const { built, charged, placement } = reserved;
      const cost = real && done ? costMicroUsd(real, ctx.prices.price(done.provider, done.model)) : 0;
      const windows: SettleBatch['windows'] = [];
      built.windows.forEach((w, i) => {
        const delta = actualAmount(w.measure, real, cost) - (charged[i] ?? 0);
        if (delta !== 0) windows.push({ key: built.batch.windows[i]?.key ?? '', delta });
      });
      // the admitted slots as they are: a settlement reads only their key and id
      const concurrency = built.batch.concurrency;
      const reservation = built.batch.reservation?.key;
      // With a reservation the settlement also closes its record, even when nothing changes.
      if (windows.length === 0 && concurrency.length === 0 && reservation === undefined) return;
      // Settling never blocks or fails the response; the store queues what it cannot deliver.
      ctx.store.settle({ windows, concurrency, reservation }, placement).catch(() => {});
    },
  };
}
