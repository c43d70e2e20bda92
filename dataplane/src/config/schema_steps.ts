// `configSchema.safeParse(raw)` in steps. One zod call over 1,000 routes and thousands of namespaces
// is one long synchronous stretch, so the top level is parsed with its big lists left opaque and then
// every entry of those lists with its own element schema, one step each (an inline API-key list of a
// namespace in slices of its own). The outcome is the one-call parse's, exactly: the same data (same
// defaults and key order, so the same config hash) or the same issues (paths, messages and order).
import { type ZodType, z } from 'zod';
import { type ConfigIssue, formatPath } from './load.ts';
import type { ReuseCache } from './reuse_cache.ts';
import { apiKeySchema, configSchema, namespaceSchema, type SluiceConfig } from './schema.ts';
import type { Steps } from './steps.ts';

export type SchemaResult = { ok: true; data: SluiceConfig } | { ok: false; issues: ConfigIssue[] };

type ListKey = 'providers' | 'routes' | 'namespaces' | 'policies';
const LIST_KEYS = new Set<string>(['providers', 'routes', 'namespaces', 'policies']);
/** The config's lists, in the schema's key order: the order zod reports their issues in. */
const LISTS = Object.keys(configSchema.shape).filter((k) => LIST_KEYS.has(k)) as ListKey[];

/** Inline API-key lists longer than this are validated in slices. */
const KEY_SLICE = 256;

/** The same list schema (its checks and default kept) with entries accepted as they are. */
function opaqueEntries(schema: ZodType): ZodType {
  if (schema instanceof z.ZodArray) return schema.clone({ ...schema.def, element: z.unknown() });
  if (schema instanceof z.ZodDefault)
    return schema.clone({ ...schema.def, innerType: opaqueEntries(schema.def.innerType as ZodType) });
  throw new Error(`config list schema of type ${schema.def.type} is not supported`);
}

function entrySchema(schema: ZodType): ZodType {
  if (schema instanceof z.ZodArray) return schema.def.element as ZodType;
  if (schema instanceof z.ZodDefault) return entrySchema(schema.def.innerType as ZodType);
  throw new Error(`config list schema of type ${schema.def.type} is not supported`);
}

const shape = configSchema.shape;
const topLevel = configSchema.extend({
  providers: opaqueEntries(shape.providers),
  routes: opaqueEntries(shape.routes),
  namespaces: opaqueEntries(shape.namespaces),
  policies: opaqueEntries(shape.policies),
});
const entries: Record<ListKey, ZodType> = {
  providers: entrySchema(shape.providers),
  routes: entrySchema(shape.routes),
  namespaces: entrySchema(shape.namespaces),
  policies: entrySchema(shape.policies),
};

function issuesOf(error: z.ZodError, prefix: PropertyKey[]): ConfigIssue[] {
  return error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A namespace entry whose inline key list is long: the rest in one step, the keys in slices. */
function* namespaceWithManyKeys(
  raw: Record<string, unknown>,
  match: Record<string, unknown>,
  keys: unknown[],
): Steps<z.ZodSafeParseResult<unknown>> {
  const rest = namespaceSchema.safeParse({ ...raw, match: { ...match, apiKeys: [] } });
  yield;
  const parsedKeys: unknown[] = [];
  let failed = !rest.success;
  for (let start = 0; start < keys.length && !failed; start += KEY_SLICE) {
    for (const key of keys.slice(start, start + KEY_SLICE)) {
      const r = apiKeySchema.safeParse(key);
      if (!r.success) failed = true;
      else parsedKeys.push(r.data);
    }
    yield;
  }
  // A bad entry is rare: parse it whole so its issues come in exactly zod's order.
  if (failed || !rest.success) return namespaceSchema.safeParse(raw);
  rest.data.match.apiKeys = parsedKeys as typeof rest.data.match.apiKeys;
  return rest;
}

function* parseEntry(list: ListKey, raw: unknown): Steps<z.ZodSafeParseResult<unknown>> {
  if (list === 'namespaces' && isRecord(raw) && isRecord(raw.match)) {
    const keys = raw.match.apiKeys;
    if (Array.isArray(keys) && keys.length > KEY_SLICE)
      return yield* namespaceWithManyKeys(raw, raw.match, keys);
  }
  return entries[list].safeParse(raw);
}

/**
 * With a cache (reuse_cache.ts), an entry whose JSON text was parsed by an earlier load is not parsed
 * again: the element schemas are pure, so the same text gives the same data. The key is the entry's
 * whole text, so any change to it (or to its inline keys) parses it afresh.
 */
export function* parseConfigSteps(raw: unknown, cache?: ReuseCache): Steps<SchemaResult> {
  const top = topLevel.safeParse(raw);
  if (!top.success) {
    // Wrong at the top (not an object, unknown keys, a bad server section, an empty list): small
    // mistakes, reported by the one-call parse so every issue comes exactly as it always has.
    const full = configSchema.safeParse(raw);
    return full.success ? { ok: true, data: full.data } : { ok: false, issues: issuesOf(full.error, []) };
  }
  yield;
  const data = top.data as Record<ListKey, unknown[]>;
  const issues: ConfigIssue[] = [];
  for (const list of LISTS) {
    const parsed: unknown[] = [];
    for (let i = 0; i < data[list].length; i++) {
      const key = cache && `${list}\0${JSON.stringify(data[list][i])}`;
      const known = key ? cache.get(key) : undefined;
      if (known !== undefined) parsed.push(known);
      else {
        const r = yield* parseEntry(list, data[list][i]);
        if (r.success) {
          parsed.push(r.data);
          if (key) cache.set(key, r.data);
        } else issues.push(...issuesOf(r.error, [list, i]));
      }
      yield;
    }
    data[list] = parsed;
  }
  if (issues.length) return { ok: false, issues };
  return { ok: true, data: data as unknown as SluiceConfig };
}
