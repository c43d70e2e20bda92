// A whole (non-streaming) answer: read the upstream body (bounded, charged to the memory budget),
// translate it, count what the upstream did not report, cut it to the grant if the upstream ignored
// max_tokens, end the attempt, complete the admission, cache, send.
import { GatewayError } from '../errors.ts';
import { attemptAnswered } from '../observability/lifecycle.ts';
import type { TranslatedResponse } from '../providers/types.ts';
import { encodingForModel } from '../tokens/counter.ts';
import type { Attempt } from './attempt.ts';
import { answerOutputTokens, capWholeAnswer } from './cap_answer.ts';
import type { Exchange } from './exchange.ts';
import { answerCharge } from './intake.ts';
import { passedUpstreamHeaders } from './upstream_headers.ts';

/**
 * A promise only when something has to be waited for (the body still arriving, a cache write, the
 * client API's completion step): a small answer that has arrived is answered without one.
 */
export function answerWhole(ex: Exchange, attempt: Attempt): Promise<void> | undefined {
  const limit = ex.runtime.config.server.maxResponseBytes;
  const budget = answerCharge(ex.reply);
  let read: Buffer | Promise<Buffer>;
  try {
    read = attempt.upstreamBody.readWhole(limit + 1, budget?.charge);
  } catch (err) {
    return readFailed(attempt, budget, err);
  }
  if (read instanceof Promise)
    return read.then(
      (body) => answerWith(ex, attempt, body),
      (err) => readFailed(attempt, budget, err),
    );
  return answerWith(ex, attempt, read);
}

function readFailed(attempt: Attempt, budget: ReturnType<typeof answerCharge>, err: unknown): never {
  // a full memory budget is this replica's state, not the provider's failure
  attempt.end(budget?.refused() ? 'neutral' : 'failure');
  throw attempt.failure(err);
}

function answerWith(ex: Exchange, attempt: Attempt, body: Buffer): Promise<void> | undefined {
  const { runtime, outcome } = ex;
  const admission = ex.admission;
  const limit = runtime.config.server.maxResponseBytes;
  const provider = attempt.provider;
  if (body.length > limit) {
    attempt.end('neutral');
    throw new GatewayError(
      'SLUICE_ERR_RESPONSE_TOO_LARGE',
      `provider '${provider.name}' response exceeds ${limit} bytes`,
    );
  }
  let translated: TranslatedResponse;
  try {
    translated = attempt.translator.parseResponse(body, attempt.tctx);
  } catch (err) {
    attempt.end('failure');
    throw err;
  }
  attempt.end('ok');
  const model = attempt.tctx.upstreamModel;
  const modelConfig = provider.modelConfig(model);
  // No usage reported (or an impossible one): Sluice counts both sides, as the pump does for a
  // stream, so the output is charged and a cap below keeps the input count.
  if (!translated.usage) {
    const encoding = encodingForModel(model, modelConfig?.tokenizer);
    const output = answerOutputTokens(translated.body, attempt.tctx.clientApi, encoding);
    translated = {
      ...translated,
      usage: { inputTokens: ex.inputTokens(), outputTokens: output, estimated: true },
    };
  }
  // An upstream that ignored max_tokens is cut to the grant here, as a stream is by the pump.
  const capped = admission.answerCap
    ? capWholeAnswer(translated.body, translated.usage, admission.answerCap, attempt.tctx.clientApi)
    : undefined;
  if (capped) {
    translated = { ...translated, body: capped.body, usage: capped.usage };
    outcome.truncated = true;
  }
  // what the client gets (after any cap), for observers
  attemptAnswered(attempt.observed, translated.body);
  outcome.finishReason ??= translated.finishReason;
  const usage = translated.usage ?? { inputTokens: ex.inputTokens(), outputTokens: 0, estimated: true };
  outcome.provider = provider.name;
  outcome.model = model;
  outcome.pricing = modelConfig?.pricing;
  outcome.usage = usage;
  ex.complete(usage, { provider: provider.name, model, cached: false, truncated: capped !== undefined });
  const caching =
    admission.cacheKey && runtime.gate.cacheSet
      ? runtime.gate.cacheSet(admission.cacheKey, translated.body)
      : undefined;
  if (caching || ex.onAnswer) return sendAfter(caching, ex, attempt, translated.body, translated.issuer);
  send(ex, attempt, translated.body);
  return undefined;
}

/** The cache write and the client API's completion step come before the answer goes out. */
async function sendAfter(
  caching: Promise<void> | undefined,
  ex: Exchange,
  attempt: Attempt,
  body: string | Buffer,
  issuer: string | undefined,
): Promise<void> {
  if (caching) await caching;
  if (ex.onAnswer) await ex.onAnswer({ body, issuer });
  send(ex, attempt, body);
}

function send(ex: Exchange, attempt: Attempt, body: string | Buffer): void {
  const { reply } = ex;
  // the internal provider name is the operator's business unless they choose to show it
  if (ex.runtime.config.server.exposeProvider) reply.header('x-sluice-provider', attempt.provider.name);
  reply.headers(
    passedUpstreamHeaders(
      attempt.response?.headers ?? {},
      attempt.provider.resolved.passRateLimitHeaders === true,
    ),
  );
  reply.header('content-type', 'application/json').send(body);
}
