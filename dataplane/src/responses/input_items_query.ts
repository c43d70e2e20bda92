// The query of GET /v1/responses/{id}/input_items, checked as OpenAI checks it: a bad `order` or
// `limit` is a 400 invalid_request_error naming the parameter, before the response is looked up
// (Sluice used to take any `order` as "desc" and clamp `limit` into 1..100 silently, so a client's
// mistake came back as a page it did not ask for). OpenAI's reference: `order` asc|desc (default
// desc), `limit` 1..100 (default 20), `after` an item id, `include` includables for output items.
import { invalid, shownValue } from '../api/validate.ts';

export interface InputItemsQuery {
  limit: number;
  order: 'asc' | 'desc';
  after?: string;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
/** an integer as a query carries it: digits, maybe signed; anything else is not an integer */
const INTEGER = /^[+-]?\d{1,16}$/;

/**
 * One value of a query key: a key given twice is refused (fastify makes it an array), as OpenAI's
 * list endpoints refuse a repeated parameter rather than pick one of the values.
 */
function single(query: Record<string, unknown>, key: string): string | undefined {
  const v = query[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    invalid(
      key,
      `Duplicate parameter: '${key}'. You provided multiple values for this parameter, whereas only one is allowed.`,
      'duplicate_parameter',
    );
  return v;
}

export function inputItemsQuery(query: Record<string, unknown>): InputItemsQuery {
  const rawLimit = single(query, 'limit');
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (!INTEGER.test(rawLimit))
      invalid(
        'limit',
        `Invalid type for 'limit': expected an integer, but got a string instead.`,
        'invalid_type',
      );
    limit = Number(rawLimit);
    if (limit < 1)
      invalid(
        'limit',
        `Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${limit} instead.`,
        'integer_below_min_value',
      );
    if (limit > MAX_LIMIT)
      invalid(
        'limit',
        `Invalid 'limit': integer above maximum value. Expected a value <= ${MAX_LIMIT}, but got ${limit} instead.`,
        'integer_above_max_value',
      );
  }
  const order = single(query, 'order') ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    invalid('order', `Invalid value: '${shownValue(order)}'. Supported values are: 'asc' and 'desc'.`);
  const after = single(query, 'after');
  // `include` (and `include[]`, as the openai SDK writes an array) names extra fields of output
  // items; Sluice lists input items as they were sent, so it has nothing to add and is not read.
  // `before` is no longer in OpenAI's reference for this endpoint and, like any unknown key, is ignored.
  return after ? { limit, order, after } : { limit, order };
}
