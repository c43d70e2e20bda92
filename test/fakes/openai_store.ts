// What a fake OpenAI organization keeps of its Responses API answers, as OpenAI does with `store`:
// the item ids it issued in stored responses (an input item naming any other id is OpenAI's 404
// "Item with id ... not found"), the encrypted reasoning contents it issued (any other is a 400: an
// organization reads only its own), and the stored responses themselves, which DELETE removes with
// their items.

type Obj = Record<string, unknown>;

/** An OpenAI error the fake answers with. */
export interface StoreRefusal {
  status: number;
  param: string | null;
  message: string;
}

export class OpenAIStore {
  /** item ids issued in stored responses (what the store can resolve) */
  readonly issued = new Set<string>();
  /** encrypted reasoning contents issued (what the organization can decrypt) */
  readonly sealed = new Set<string>();
  /** stored response ids and the item ids each holds */
  readonly responses = new Map<string, string[]>();

  /** An answer's output, kept unless the request said `store: false`. */
  keep(body: Obj, responseId: string, output: Obj[]): void {
    if (body.store === false) return;
    const ids = output.map((item) => item.id as string);
    for (const id of ids) this.issued.add(id);
    this.responses.set(responseId, ids);
  }

  /** The reasoning item an answer to a reasoning request starts with (sealed if `include` asks). */
  reasoningItem(body: Obj, id: string): Obj {
    const item: Obj = { type: 'reasoning', id, summary: [] };
    if (Array.isArray(body.include) && body.include.includes('reasoning.encrypted_content')) {
      item.encrypted_content = `gAAA${Math.random().toString(36).slice(2)}${id}`;
      this.sealed.add(item.encrypted_content as string);
    }
    return item;
  }

  /** OpenAI's refusal of input item `i`, if its id or encrypted content is not this organization's. */
  check(item: Obj, i: number): StoreRefusal | undefined {
    if (item.type === 'reasoning' && typeof item.encrypted_content === 'string') {
      if (this.sealed.has(item.encrypted_content)) return undefined;
      return {
        status: 400,
        param: `input[${i}].encrypted_content`,
        message: `The encrypted content for item ${String(item.id)} could not be verified.`,
      };
    }
    if (!('id' in item) || this.issued.has(item.id as string)) return undefined;
    return {
      status: 404,
      param: 'input',
      message: `Item with id '${String(item.id)}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
    };
  }

  /** DELETE /v1/responses/{id}: OpenAI's answer body and status. */
  delete(id: string): { status: number; body: Obj } {
    const items = this.responses.get(id);
    if (!items) {
      return {
        status: 404,
        body: {
          error: {
            message: `Response with id '${id}' not found.`,
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        },
      };
    }
    this.responses.delete(id);
    for (const itemId of items) this.issued.delete(itemId);
    return { status: 200, body: { id, object: 'response', deleted: true } };
  }
}
