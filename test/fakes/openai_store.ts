// What a fake OpenAI organization keeps of its Responses API answers, as OpenAI does with `store`:
// the item ids it issued in stored responses (an input item naming any other id is OpenAI's 404
// "Item with id ... not found"), the encrypted reasoning contents it issued (any other is a 400: an
// organization reads only its own), and the stored responses themselves, which DELETE removes with
// their items. Like OpenAI, it checks the order of what a request names: a reasoning item it issued
// must be followed right after by the item that followed it in its answer (that item's id, or an
// item of its type without an id, as the Vercel AI SDK sends a function call after a referenced
// reasoning item), and that item, named by its id, must come right after its reasoning item (OpenAI's
// 400s "... was provided without its required following item" and "... without its required
// 'reasoning' item"); an id named twice is OpenAI's 400 "Duplicate item found".

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
  /** a stored reasoning item's id -> the id of the item that followed it in the same answer */
  readonly following = new Map<string, string>();
  /** an item that followed a reasoning item -> that reasoning item's id */
  readonly preceding = new Map<string, string>();
  /** the type of each issued item (an item_reference names one) */
  readonly types = new Map<string, string>();

  /** An answer's output, kept unless the request said `store: false`. */
  keep(body: Obj, responseId: string, output: Obj[]): void {
    if (body.store === false) return;
    const ids = output.map((item) => item.id as string);
    for (const id of ids) this.issued.add(id);
    output.forEach((item, i) => {
      this.types.set(item.id as string, item.type as string);
      const next = output[i + 1];
      if (item.type !== 'reasoning' || !next) return;
      this.following.set(item.id as string, next.id as string);
      this.preceding.set(next.id as string, item.id as string);
    });
    this.responses.set(responseId, ids);
  }

  /**
   * OpenAI's refusal of a whole input whose named items are out of their order or repeated (after
   * each item passed `check`): a reasoning item without the item that followed it right after it,
   * an item that followed a reasoning item without that reasoning item right before it, an id twice.
   */
  checkOrder(input: Obj[]): StoreRefusal | undefined {
    const seen = new Set<string>();
    const idOf = (item: Obj | undefined) => (typeof item?.id === 'string' ? item.id : undefined);
    /** is `item` the one that followed reasoning item `rs`: its id, or its type without an id */
    const follows = (item: Obj | undefined, next: string) => {
      const id = idOf(item);
      if (id !== undefined) return id === next;
      if (item === undefined || (item.role ?? 'assistant') !== 'assistant') return false;
      return (item.type ?? 'message') === this.types.get(next);
    };
    for (let i = 0; i < input.length; i++) {
      const id = idOf(input[i] as Obj);
      if (id === undefined || !this.issued.has(id)) continue;
      const refuse = (message: string): StoreRefusal => ({ status: 400, param: 'input', message });
      if (seen.has(id))
        return refuse(
          `Duplicate item found with id ${id}. Remove duplicate items from your input and try again.`,
        );
      seen.add(id);
      const type = this.types.get(id) ?? 'message';
      const next = this.following.get(id);
      if (next !== undefined && !follows(input[i + 1], next))
        return refuse(`Item '${id}' of type '${type}' was provided without its required following item.`);
      const before = this.preceding.get(id);
      if (before !== undefined && idOf(input[i - 1]) !== before)
        return refuse(
          `Item '${id}' of type '${type}' was provided without its required 'reasoning' item: '${before}'.`,
        );
    }
    return undefined;
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
    for (const itemId of items) {
      this.issued.delete(itemId);
      this.following.delete(itemId);
      this.preceding.delete(itemId);
      this.types.delete(itemId);
    }
    return { status: 200, body: { id, object: 'response', deleted: true } };
  }
}
