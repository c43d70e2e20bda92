// A streamed answer: from the first event on, the stream owns its ending. Headers go out, the pump
// (stream.ts) writes the translated events with backpressure, caps and honest endings; then the
// attempt ends with what happened (complete, cut, client gone, failed after the first byte), the
// admission is completed with the usage delivered, and a failure is reported in the outcome (the
// HTTP status was already 200).
import type { OutgoingHttpHeaders } from 'node:http';
import {
  answerCollector,
  attemptAnswered,
  attemptFirstToken,
  firstByteSent,
} from '../observability/lifecycle.ts';
import type { StreamEvent, StreamTranslator } from '../providers/types.ts';
import type { Attempt } from './attempt.ts';
import type { Exchange } from './exchange.ts';
import { pumpStream } from './stream.ts';
import { passedUpstreamHeaders } from './upstream_headers.ts';

export async function answerStream(
  ex: Exchange,
  attempt: Attempt,
  translator: StreamTranslator,
  iterator: AsyncIterator<Buffer>,
  first: { events: StreamEvent[]; ended: boolean },
): Promise<void> {
  const { reply, outcome, runtime } = ex;
  const admission = ex.admission;
  const provider = attempt.provider.name;
  const model = attempt.tctx.upstreamModel;
  outcome.provider = provider;
  outcome.model = model;
  outcome.pricing = attempt.provider.modelConfig(model)?.pricing;
  // What the request's hooks put on the reply (the client's echoed `x-client-request-id`, `connection:
  // close` while draining or after an Expect: 100-continue) is fastify's until it sends: read before
  // hijacking, or a stream would go out without them as it did.
  const hooked = reply.getHeaders() as OutgoingHttpHeaders;
  reply.hijack();
  const res = reply.raw;
  const headers: OutgoingHttpHeaders = {
    ...hooked,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-request-id': String(ex.req.id),
    ...(runtime.config.server.exposeProvider ? { 'x-sluice-provider': provider } : {}),
    ...passedUpstreamHeaders(
      attempt.response?.headers ?? {},
      attempt.provider.resolved.passRateLimitHeaders === true,
    ),
    ...admission.headers,
  };
  res.writeHead(200, headers);
  // the delivered text, kept only while an observer that may record content listens (tracing)
  const answerText = answerCollector(attempt.observed);
  const result = await pumpStream(
    {
      res,
      translator,
      pending: first.events,
      inputTokens: ex.inputTokens,
      encoding: ex.encoding,
      outputCap: admission.outputCap,
      allowOutput: admission.allowOutput,
      abortUpstream: () => attempt.abort(),
      clientGone: ex.clientGone.signal,
      stallMs: attempt.timeouts.idleMs,
      // the error event is written into the stream: redacted like any error the client sees
      mapError: (err) => runtime.redactor.scrubError(attempt.failure(err)),
      onFirstByte: () => {
        const seconds = (performance.now() - ex.started) / 1000;
        firstByteSent(attempt.tctx.clientApi, provider, model, ex.routeName ?? 'none', seconds);
        attemptFirstToken(attempt.observed);
      },
      onText: answerText ? (t) => answerText.add(t) : undefined,
    },
    iterator,
    first.ended,
  );
  if (answerText) attemptAnswered(attempt.observed, answerText.text());
  attempt.end(result.outcome === 'error' ? 'failure' : result.outcome === 'complete' ? 'ok' : 'neutral');
  outcome.usage = result.usage;
  outcome.truncated = result.outcome === 'truncated';
  if (outcome.truncated) outcome.truncatedBy = result.truncatedBy ?? 'output_cap';
  ex.complete(result.usage, { provider, model, cached: false, truncated: outcome.truncated });
  if (ex.onAnswer && (result.outcome === 'complete' || result.outcome === 'truncated'))
    await ex.onAnswer({ stream: translator });
  res.end();
  if (result.error) {
    outcome.status = result.error.status;
    outcome.code = result.error.code;
  }
}
