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

export async function answerWhole(ex: Exchange, attempt: Attempt): Promise<void> {
  const { reply, runtime, outcome } = ex;
  const admission = ex.admission;
  const limit = runtime.config.server.maxResponseBytes;
  const provider = attempt.provider;
  let body: Buffer;
  const budget = answerCharge(reply);
  try {
    body = await attempt.upstreamBody.readAll(limit + 1, budget?.charge);
  } catch (err) {
    // a full memory budget is this replica's state, not the provider's failure
    attempt.end(budget?.refused() ? 'neutral' : 'failure');
    throw attempt.failure(err);
  }
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
  if (admission.cacheKey && runtime.gate.cacheSet)
    await runtime.gate.cacheSet(admission.cacheKey, translated.body);
  if (ex.onAnswer) await ex.onAnswer({ body: translated.body });
  // the internal provider name is the operator's business unless they choose to show it
  if (runtime.config.server.exposeProvider) reply.header('x-sluice-provider', provider.name);
  reply.headers(passedUpstreamHeaders(attempt.response?.headers ?? {}));
  reply.header('content-type', 'application/json').send(translated.body);
}
