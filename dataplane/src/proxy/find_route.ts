// Which route serves a request: the first that matches its path, model and headers and that the
// caller's namespace may use.

import type { Runtime } from '../compiled/compile.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from './policy_interface.ts';

/**
 * 404 model_not_found, as OpenAI answers (SDKs map it to NotFoundError; clients check the code). Also
 * the answer for a model only routes of other tenants serve: their existence and names are not revealed.
 */
export function unknownModel(model: string): GatewayError {
  return new GatewayError(
    'SLUICE_ERR_UNKNOWN_MODEL',
    `The model \`${model}\` does not exist or you do not have access to it.`,
    { param: 'model' },
  );
}

/**
 * The first route that matches the request and that the caller's namespace may use. When routes
 * match but none is allowed, a matching route of the caller's own is returned (so authorize() answers
 * 403 naming the caller's own model rule), else the first match (authorize() answers 404 for a route
 * the namespace may not use, as if nothing matched): two tenants whose routes match the same model
 * each get their own route.
 */
export function findRoute(
  runtime: Runtime,
  model: string,
  path: string,
  get: (n: string) => string | undefined,
  identity: Identity,
): CompiledRoute {
  let forbidden: CompiledRoute | undefined;
  for (const r of runtime.routes) {
    if (!(r.matchesPath(path) && r.matchesModel(model) && r.matchesHeaders(get))) continue;
    if (runtime.gate.visibleModel(identity, r, model)) return r;
    if (!forbidden || (!mayUse(runtime, identity, forbidden) && mayUse(runtime, identity, r))) forbidden = r;
  }
  if (forbidden) return forbidden;
  throw unknownModel(model);
}

function mayUse(runtime: Runtime, identity: Identity, route: CompiledRoute): boolean {
  return runtime.gate.mayUseRoute?.(identity, route) ?? true;
}
