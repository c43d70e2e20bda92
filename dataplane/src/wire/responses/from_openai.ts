// An OpenAI chat completion as a Responses API `response` object: message text becomes one `message`
// output item, each tool call a `function_call` item, reasoning text a `reasoning` item; a `length`
// finish makes the response `incomplete` with reason `max_output_tokens` (as OpenAI reports it).

import type { Usage } from '../../providers/types.ts';
import {
  type FunctionCallItem,
  type MessageItem,
  newItemId,
  type OutputItem,
  type ResponseObject,
  responseShell,
  toResponsesUsage,
} from './format.ts';

type Obj = Record<string, unknown>;

export interface ChatCompletionLike {
  choices?: Array<{
    message?: {
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
}

/** Output items for one chat answer (choice 0: the Responses API has no `n`). */
export function outputItems(c: ChatCompletionLike, incomplete: boolean): OutputItem[] {
  const msg = c.choices?.[0]?.message ?? {};
  const items: OutputItem[] = [];
  if (msg.reasoning_content) {
    items.push({
      type: 'reasoning',
      id: newItemId('rs'),
      summary: [],
      content: [{ type: 'reasoning_text', text: msg.reasoning_content }],
    });
  }
  const status = incomplete ? 'incomplete' : 'completed';
  if (msg.refusal) {
    items.push(messageItem([{ type: 'refusal', refusal: msg.refusal }], status));
  } else if (typeof msg.content === 'string' && (msg.content !== '' || !msg.tool_calls?.length)) {
    items.push(
      messageItem([{ type: 'output_text', text: msg.content, annotations: [], logprobs: [] }], status),
    );
  }
  for (const call of msg.tool_calls ?? []) {
    const item: FunctionCallItem = {
      type: 'function_call',
      id: newItemId('fc'),
      call_id: call.id ?? newItemId('fc'),
      name: call.function?.name ?? '',
      arguments: call.function?.arguments ?? '',
      status,
    };
    items.push(item);
  }
  return items;
}

function messageItem(content: MessageItem['content'], status: MessageItem['status']): MessageItem {
  return { type: 'message', id: newItemId('msg'), status, role: 'assistant', content };
}

/** The terminal status for a chat finish reason. */
export function statusFor(finish: string | null | undefined): {
  status: 'completed' | 'incomplete';
  details: ResponseObject['incomplete_details'];
} {
  if (finish === 'length') return { status: 'incomplete', details: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', details: { reason: 'content_filter' } };
  return { status: 'completed', details: null };
}

export function chatToResponse(
  c: ChatCompletionLike,
  body: Obj,
  opts: { id: string; model: string; usage: Usage | undefined },
): ResponseObject {
  const createdAt = Math.floor(Date.now() / 1000);
  const { status, details } = statusFor(c.choices?.[0]?.finish_reason);
  return {
    ...responseShell(body, opts.id, opts.model, createdAt),
    status,
    completed_at: status === 'completed' ? createdAt : null,
    incomplete_details: details,
    output: outputItems(c, status === 'incomplete'),
    usage: opts.usage ? toResponsesUsage(opts.usage) : null,
  };
}
