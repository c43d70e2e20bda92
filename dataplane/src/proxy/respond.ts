// Writing the answer: a whole (non-streaming) response, or a streamed one through the pump; both
// record usage, cost and latency and reconcile the admission with the real usage.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientAnswer } from '../api/types.ts';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError } from '../errors.ts';
import { answerCollector, attemptAnswered, attemptFirstToken } from '../observability/lifecycle.ts';
import { metrics } from '../observability/metrics.ts';
import { modelLabel } from '../observability/model_labels.ts';
import { costMicroUsd } from '../policy/pricing.ts';
import type { StreamEvent, StreamTranslator, Usage } from '../providers/types.ts';
import type { Redactor } from '../security/redactor.ts';
import { type EncodingName, encodingForModel } from '../tokens/counter.ts';
import { type Attempt, readBounded } from './attempts.ts';
import { answerOutputTokens, capWholeAnswer } from './cap_answer.ts';
import { chargeAnswer } from './intake.ts';
import type { RequestOutcome } from './pipeline.ts';
import type { Admission } from './policy_interface.ts';
import { pumpStream } from './stream.ts';
import { upstreamFailure } from './transport.ts';
import { passedUpstreamHeaders } from './upstream_headers.ts';

function recordUsage(attempt: Attempt, namespace: string, usage: Usage): void {
  const provider = attempt.backend.provider.name;
  const model = attempt.tctx.upstreamModel;
  // a configured name or `other`: clients never choose label values
  const label = modelLabel(model);
  metrics.tokens.inc(usage.inputTokens, namespace, label, provider, 'input');
  metrics.tokens.inc(usage.outputTokens, namespace, label, provider, 'output');
  if (usage.cachedInputTokens)
    metrics.tokens.inc(usage.cachedInputTokens, namespace, label, provider, 'cached_input');
  const api = attempt.tctx.clientApi;
  metrics.tokenUsage.observe(usage.inputTokens, 'input', api, provider, label, namespace);
  metrics.tokenUsage.observe(usage.outputTokens, 'output', api, provider, label, namespace);
  const price = attempt.backend.provider.modelConfig(model)?.pricing;
  // the same function the budget settlement uses (policy/admit.ts): the metric and the budget agree
  if (price) metrics.costUsd.inc(costMicroUsd(usage, price) / 1e6, namespace, label, provider);
}

export async function respondWhole(
  attempt: Attempt,
  reply: FastifyReply,
  runtime: Runtime,
  admission: Admission,
  inputTokens: () => number,
  outcome: RequestOutcome,
  /** the client API's completion step (e.g. storing a Responses API answer), before the answer is sent */
  onAnswer?: (answer: ClientAnswer) => Promise<void>,
): Promise<void> {
  const limit = runtime.config.server.maxResponseBytes;
  let body: Buffer;
  const overBudget = chargeAnswer(reply, attempt.response.body);
  try {
    body = await readBounded(attempt.response.body, limit + 1);
  } catch (err) {
    // a full memory budget is this replica's state, not the provider's failure
    attempt.release(overBudget() ? 'neutral' : 'failure');
    throw upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts);
  }
  if (body.length > limit) {
    attempt.release('neutral');
    throw new GatewayError(
      'SLUICE_ERR_RESPONSE_TOO_LARGE',
      `provider '${attempt.backend.provider.name}' response exceeds ${limit} bytes`,
    );
  }
  let translated: ReturnType<Attempt['translator']['parseResponse']>;
  try {
    translated = attempt.translator.parseResponse(body, attempt.tctx);
  } catch (err) {
    attempt.release('failure');
    throw err;
  }
  attempt.release('ok');
  attempt.backend.provider.observeLatency(attempt.tctx.upstreamModel, performance.now() - attempt.startedAt);
  // No usage reported (or an impossible one): Sluice counts both sides, as the pump does for a
  // stream, so the output is charged and a cap below keeps the input count.
  if (!translated.usage) {
    const model = attempt.tctx.upstreamModel;
    const encoding = encodingForModel(model, attempt.backend.provider.modelConfig(model)?.tokenizer);
    const output = answerOutputTokens(translated.body, attempt.tctx.clientApi, encoding);
    translated = {
      ...translated,
      usage: { inputTokens: inputTokens(), outputTokens: output, estimated: true },
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
  const usage = translated.usage ?? { inputTokens: inputTokens(), outputTokens: 0, estimated: true };
  outcome.provider = attempt.backend.provider.name;
  outcome.model = attempt.tctx.upstreamModel;
  outcome.usage = usage;
  recordUsage(attempt, outcome.namespace ?? 'none', usage);
  admission.complete(usage, {
    provider: outcome.provider,
    model: outcome.model,
    cached: false,
    truncated: capped !== undefined,
  });
  if (admission.cacheKey && runtime.gate.cacheSet)
    await runtime.gate.cacheSet(admission.cacheKey, translated.body);
  if (onAnswer) await onAnswer({ body: translated.body });
  // the internal provider name is the operator's business unless they choose to show it
  if (runtime.config.server.exposeProvider && outcome.provider)
    reply.header('x-sluice-provider', outcome.provider);
  reply.headers(passedUpstreamHeaders(attempt.response.headers));
  reply.header('content-type', 'application/json').send(translated.body);
}

export interface StreamResponseContext {
  attempt: Attempt;
  /** the client API's completion step, after a complete or capped answer and before the stream ends */
  onAnswer?: (answer: ClientAnswer) => Promise<void>;
  redactor: Redactor;
  translator: StreamTranslator;
  iterator: AsyncIterator<Buffer>;
  first: { events: StreamEvent[]; ended: boolean };
  req: FastifyRequest;
  reply: FastifyReply;
  admission: Admission;
  inputTokens: () => number;
  encoding: EncodingName;
  clientGone: AbortSignal;
  started: number;
  outcome: RequestOutcome;
  /** server.exposeProvider: send x-sluice-provider */
  exposeProvider?: boolean;
}

/**
 * Write a streamed answer. Owns the stream's ending from the first byte on: a failure after that is
 * written as an error event by the pump and reported in the outcome, never retried.
 */
export async function respondStream(ctx: StreamResponseContext): Promise<void> {
  const {
    attempt,
    iterator,
    first,
    req,
    reply,
    admission,
    inputTokens,
    encoding,
    clientGone,
    started,
    outcome,
  } = ctx;
  const st = ctx.translator;
  outcome.provider = attempt.backend.provider.name;
  outcome.model = attempt.tctx.upstreamModel;
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-request-id': String(req.id),
    ...(ctx.exposeProvider ? { 'x-sluice-provider': outcome.provider } : {}),
    ...passedUpstreamHeaders(attempt.response.headers),
    ...admission.headers,
  };
  res.writeHead(200, headers);
  // the delivered text, kept only while an observer that may record content listens (tracing)
  const answerText = answerCollector(attempt.observed);
  const result = await pumpStream(
    {
      res,
      translator: st,
      upstream: attempt.response,
      pending: first.events,
      inputTokens,
      encoding,
      outputCap: admission.outputCap,
      allowOutput: admission.allowOutput,
      abortUpstream: () => attempt.controller.abort(),
      clientGone,
      // the error event is written into the stream: redacted like any error the client sees
      mapError: (err) =>
        ctx.redactor.scrubError(upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts)),
      onFirstByte: () => {
        metrics.timeToFirstToken.observe(
          (performance.now() - started) / 1000,
          attempt.tctx.clientApi,
          attempt.backend.provider.name,
          modelLabel(attempt.tctx.upstreamModel),
          outcome.route ?? 'none',
        );
        attemptFirstToken(attempt.observed);
      },
      onText: answerText ? (t) => answerText.add(t) : undefined,
    },
    iterator,
    first.ended,
  );
  if (answerText) attemptAnswered(attempt.observed, answerText.text());
  attempt.release(result.outcome === 'error' ? 'failure' : result.outcome === 'complete' ? 'ok' : 'neutral');
  if (result.outcome === 'complete') {
    attempt.backend.provider.observeLatency(
      attempt.tctx.upstreamModel,
      performance.now() - attempt.startedAt,
    );
  }
  outcome.usage = result.usage;
  outcome.truncated = result.outcome === 'truncated';
  if (outcome.truncated)
    metrics.streamsTruncated.inc({
      namespace: outcome.namespace ?? 'none',
      reason: result.truncatedBy ?? 'output_cap',
    });
  recordUsage(attempt, outcome.namespace ?? 'none', result.usage);
  admission.complete(result.usage, {
    provider: outcome.provider,
    model: outcome.model,
    cached: false,
    truncated: outcome.truncated,
  });
  if (ctx.onAnswer && (result.outcome === 'complete' || result.outcome === 'truncated'))
    await ctx.onAnswer({ stream: st });
  res.end();
  if (result.error) {
    outcome.status = result.error.status;
    outcome.code = result.error.code;
  }
}
