// Status writes through the status subresource with optimistic concurrency: start from the informer's
// copy (its resourceVersion), replace the status, and on 409 Conflict read the latest and retry
// (bounded). Starting from the cache saves a GET per write; the informer is rarely behind.
import { isConflict, isNotFound, type KubeRest, resourcePath } from '../../../kube/kube_rest.ts';
import type { Resource, Status } from '../api/common.ts';

export type StatusWrite = 'written' | 'unchanged' | 'gone' | 'stale';

export async function writeStatus(
  rest: KubeRest,
  apiVersion: string,
  plural: string,
  namespace: string,
  name: string,
  /** computes the status from the freshly read object; undefined = nothing to write */
  desired: (live: Resource<unknown>) => Status | undefined,
  attempts = 5,
  /** the informer's copy, tried first */
  cached?: Resource<unknown>,
): Promise<StatusWrite> {
  const path = resourcePath(apiVersion, plural, namespace, name);
  for (let i = 0; i < attempts; i++) {
    let live: Resource<unknown>;
    if (i === 0 && cached) live = cached;
    else
      try {
        live = await rest.request<Resource<unknown>>('GET', path);
      } catch (err) {
        if (isNotFound(err)) return 'gone';
        throw err;
      }
    const status = desired(live);
    if (!status) return 'unchanged';
    try {
      await rest.request('PUT', `${path}/status`, { body: { ...live, status } });
      return 'written';
    } catch (err) {
      if (isNotFound(err)) return 'gone';
      if (!isConflict(err)) throw err;
    }
  }
  return 'stale';
}
