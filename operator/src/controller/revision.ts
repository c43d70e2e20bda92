// The config revision and the per-object generations the rendered config carries (see
// renderedObjectsSchema in the config contract). The revision grows by one whenever the rendered
// content or a rendered generation changes, never otherwise, so an unchanged render writes nothing.
// For each object the config records [generation, since]: the revision since which that generation
// has been in every config. A replica that reports revision r therefore serves generation g of the
// object exactly when since <= r (programmed.ts).
import { createHash } from 'node:crypto';
import {
  configHash,
  configSchema,
  decodeStoredText,
  type RenderedObjects,
  type SluiceConfig,
} from '../../../dataplane/src/config/contract.ts';
import { CONFIG_KEY, configJson } from '../render/encode.ts';
import type { RenderResult } from '../render/render.ts';

export interface RevisionState {
  revision: number;
  objects: RenderedObjects;
  /** digest of the config without revision and objects, plus every rendered generation */
  contentKey: string;
}

/** What decides whether a render is a new revision: the config text and the generations in it. */
export function contentKeyOf(configText: string, generations: ReadonlyMap<string, number>): string {
  const h = createHash('sha256').update(configText);
  for (const key of [...generations.keys()].sort()) h.update(`\0${key}\0${generations.get(key)}`);
  return h.digest('hex');
}

/**
 * The state after a render whose config text (without revision and objects) is `configText` and
 * which carries `generations` (object key -> generation served). A new lineage (no previous state,
 * e.g. the ConfigMap was deleted) starts at the current Unix second, so it is past any revision a
 * replica may still report from an older lineage.
 */
export function nextRevision(
  prev: RevisionState | undefined,
  configText: string,
  generations: ReadonlyMap<string, number>,
  now = Date.now(),
): RevisionState {
  const contentKey = contentKeyOf(configText, generations);
  if (prev && prev.contentKey === contentKey) return prev;
  const revision = prev ? prev.revision + 1 : Math.max(1, Math.floor(now / 1000));
  const objects: RenderedObjects = {};
  for (const key of [...generations.keys()].sort()) {
    const generation = generations.get(key) ?? 0;
    const before = prev?.objects[key];
    objects[key] = [generation, before && before[0] === generation ? before[1] : revision];
  }
  return { revision, objects, contentKey };
}

/** The render result with the revision and objects written into its config, text and hash. */
export function stampResult(result: RenderResult, state: RevisionState): RenderResult {
  if (!result.config || !result.configText || !result.input) return result;
  // appended last, as they were when the text was parsed back and stamped (the text stays the same)
  const input = { ...result.input, revision: state.revision, objects: state.objects };
  // in the schema's key order, as the dataplane's parse puts them, so the hashes agree
  const merged: Record<string, unknown> = {
    ...result.config,
    revision: state.revision,
    objects: state.objects,
  };
  const ordered: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape))
    if (merged[key] !== undefined) ordered[key] = merged[key];
  const config = ordered as SluiceConfig;
  return { ...result, config, configText: configJson(input), hash: configHash(config) };
}

/**
 * The state the live ConfigMap was written with, so a restarted or new leader continues the same
 * revisions (and keeps every object's `since`) instead of flipping Programmed on every object.
 */
export function revisionFromConfigMap(data: Record<string, string> | undefined): RevisionState | undefined {
  const text = data?.[CONFIG_KEY];
  if (!text) return undefined;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(decodeStoredText(text)) as Record<string, unknown>;
  } catch {
    return undefined; // not ours or not JSON: start a new lineage
  }
  const { revision, objects, ...rest } = parsed;
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || !isObjects(objects))
    return undefined;
  const generations = new Map(Object.entries(objects).map(([k, [g]]) => [k, g]));
  return { revision, objects, contentKey: contentKeyOf(configJson(rest), generations) };
}

function isObjects(v: unknown): v is RenderedObjects {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v).every(
    (e) => Array.isArray(e) && e.length === 2 && e.every((n) => Number.isSafeInteger(n) && n >= 0),
  );
}
