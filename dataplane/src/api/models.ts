// GET /v1/models and GET /v1/models/{id}: the models this caller may use, in OpenAI's shape, or in
// Anthropic's when the request carries `anthropic-version` (as the anthropic SDKs and Claude Code send
// it on every call). A route lists the names it matches exactly plus its providers' configured models
// that its globs accept; a model another tenant's route serves is not listed, and asking for it by id
// answers 404 model_not_found as OpenAI does (existence is not revealed).
import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError } from '../errors.ts';
import type { Identity } from '../proxy/policy_interface.ts';

export interface ListedModel {
  id: string;
  route: string;
}

/** When a config was first listed: the `created` of its models (Sluice cannot know a model's age). */
const loadedAt = new WeakMap<Runtime, number>();

function createdOf(runtime: Runtime): number {
  let t = loadedAt.get(runtime);
  if (t === undefined) {
    t = Math.floor(Date.now() / 1000);
    loadedAt.set(runtime, t);
  }
  return t;
}

export function visibleModels(runtime: Runtime, identity: Identity): ListedModel[] {
  const seen = new Set<string>();
  const out: ListedModel[] = [];
  for (const route of runtime.routes) {
    // exact names the route lists, plus provider models its globs (or no model match) accept
    const names = route.listedModels.concat(
      route.balancer.backends.flatMap((b) => (b.model ? [] : [...b.provider.resolved.models.keys()])),
    );
    for (const id of names) {
      if (seen.has(id) || !route.matchesModel(id) || !runtime.gate.visibleModel(identity, route, id))
        continue;
      seen.add(id);
      out.push({ id, route: route.name });
    }
  }
  return out;
}

/** Anthropic clients send anthropic-version on every request; they read Anthropic's model shape. */
export function wantsAnthropicShape(headers: IncomingHttpHeaders): boolean {
  return headers['anthropic-version'] !== undefined;
}

function openaiModel(m: ListedModel, created: number) {
  return { id: m.id, object: 'model', created, owned_by: `sluice/${m.route}` };
}

function anthropicModel(m: ListedModel, created: number) {
  return { type: 'model', id: m.id, display_name: m.id, created_at: new Date(created * 1000).toISOString() };
}

export function modelList(runtime: Runtime, identity: Identity, anthropic: boolean): unknown {
  const created = createdOf(runtime);
  const models = visibleModels(runtime, identity);
  if (!anthropic) return { object: 'list', data: models.map((m) => openaiModel(m, created)) };
  const data = models.map((m) => anthropicModel(m, created));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

export function modelById(runtime: Runtime, identity: Identity, id: string, anthropic: boolean): unknown {
  const m = visibleModels(runtime, identity).find((x) => x.id === id);
  if (!m) {
    throw new GatewayError('SLUICE_ERR_UNKNOWN_MODEL', `The model '${id.slice(0, 256)}' does not exist`, {
      param: 'model',
    });
  }
  const created = createdOf(runtime);
  return anthropic ? anthropicModel(m, created) : openaiModel(m, created);
}
