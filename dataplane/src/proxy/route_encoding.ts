// Which tokenizer counts a request's prompt: the first backend's upstream model decides (its
// configured `tokenizer`, else its family). One function for admission, the pipeline, readiness
// warm-up and count_tokens, so they can never count the same prompt two ways.
import type { CompiledRoute } from '../compiled/route.ts';
import { type EncodingName, encodingForModel } from '../tokens/counter.ts';
import { upstreamModel } from './balancer.ts';

export function encodingForRoute(route: CompiledRoute, model: string): EncodingName {
  const first = route.balancer.backends[0];
  if (!first) return encodingForModel(model);
  const up = upstreamModel(first, model);
  return encodingForModel(up, first.provider.modelConfig(up)?.tokenizer);
}
