// Responses API client -> any backend, through that backend's openai-chat translator: the request
// becomes a chat completions body (wire/responses/to_openai.ts), the backend translator takes it to its wire
// format (OpenAI-compatible, Anthropic, Gemini, Bedrock), and its chat answer (or chunk stream) comes
// back as a `response` object (or the typed Responses events). One composition for every backend, so
// the core and the backends know nothing of the Responses API.
import { countTokens, estimateTokens } from '../../tokens/counter.ts';
import {
  newResponseId,
  type ResponseObject,
  responseShell,
  responsesPromptText,
} from '../../wire/responses/format.ts';
import { type ChatCompletionLike, chatToResponse } from '../../wire/responses/from_openai.ts';
import { ResponsesFromChatStream } from '../../wire/responses/from_openai_stream.ts';
import { responsesToChat } from '../../wire/responses/to_openai.ts';
import type {
  BackendApi,
  StreamEvent,
  TranslateContext,
  TranslatedResponse,
  Translator,
  Usage,
} from '../types.ts';
import { inClientTerms, RESPONSES_NAMES } from './client_params.ts';
import { ComposedStream } from './composed_stream.ts';

type Obj = Record<string, unknown>;

/** Per attempt: the client's body (echoed in the response), the response id and the input estimate. */
interface AttemptState {
  body: Obj;
  id: string;
  inputEstimate: number;
  inner: TranslateContext;
}

const attempts = new WeakMap<TranslateContext, AttemptState>();

function stateOf(ctx: TranslateContext): AttemptState {
  const s = attempts.get(ctx);
  if (!s) throw new Error('responses translator: buildRequest was not called for this attempt');
  return s;
}

function estimate(state: AttemptState, output: string): Usage {
  return { inputTokens: state.inputEstimate, outputTokens: countTokens(output, 'estimate'), estimated: true };
}

/** The response object a stream starts from (status in_progress, no output yet). */
export function streamBase(body: Obj, id: string, model: string): ResponseObject {
  return {
    ...responseShell(body, id, model, Math.floor(Date.now() / 1000)),
    status: 'in_progress',
    output: [],
    usage: null,
  };
}

/** The Responses stream keeps its own usage and end flags: the inner events go to it whole. */
class ComposedResponsesStream extends ComposedStream<ResponsesFromChatStream> {
  get final(): ResponseObject | undefined {
    return this.outer.final;
  }

  protected override through(events: StreamEvent[]): StreamEvent[] {
    return this.outer.through(events);
  }
}

/** An `openai-responses -> backend` translator built from the backend's `openai-chat` translator. */
export function responsesVia(chatToBackend: Translator): Translator {
  const backendApi: BackendApi = chatToBackend.backendApi;
  return {
    clientApi: 'openai-responses',
    backendApi,
    // responsesToChat builds a new body; the client's is only read
    leavesBodyIntact: true,
    buildRequest(body, ctx) {
      const inner: TranslateContext = { ...ctx, clientApi: 'openai-chat', clientWantsStreamUsage: true };
      attempts.set(ctx, {
        body,
        id: newResponseId(),
        inputEstimate: estimateTokens(responsesPromptText(body)),
        inner,
      });
      const origins: string[] = [];
      const chat = responsesToChat(body, ctx.stream, origins);
      // the backend translator's refusal names chat fields; the client sent the Responses API's
      const inClientNames = (err: unknown) => inClientTerms(err, origins, RESPONSES_NAMES);
      try {
        const request = chatToBackend.buildRequest(chat, inner);
        return request instanceof Promise
          ? request.catch((err: unknown) => {
              throw inClientNames(err);
            })
          : request;
      } catch (err) {
        throw inClientNames(err);
      }
    },
    parseResponse(raw, ctx): TranslatedResponse {
      const state = stateOf(ctx);
      const mid = chatToBackend.parseResponse(raw, state.inner);
      const completion = JSON.parse(mid.body.toString()) as ChatCompletionLike;
      const message = completion.choices?.[0]?.message;
      const usage =
        mid.usage ??
        estimate(
          state,
          (message?.content ?? '') +
            (message?.tool_calls ?? []).map((t) => t.function?.arguments ?? '').join(''),
        );
      const response = chatToResponse(completion, state.body, {
        id: state.id,
        model: ctx.upstreamModel,
        usage,
      });
      return { body: JSON.stringify(response), usage, finishReason: mid.finishReason };
    },
    createStream(ctx) {
      const state = stateOf(ctx);
      const outer = new ResponsesFromChatStream(streamBase(state.body, state.id, ctx.upstreamModel), (out) =>
        estimate(state, out),
      );
      return new ComposedResponsesStream(chatToBackend.createStream(state.inner), outer);
    },
    parseError: (status, body, ctx, headers) =>
      chatToBackend.parseError(status, body, stateOf(ctx).inner, headers),
  };
}
