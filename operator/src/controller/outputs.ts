// Writes the rendered config (ConfigMap) and its secrets (Secret) with server-side apply under one
// field manager. Each carries a content-hash annotation; when the live object already has it, nothing
// is written, so an operator restart or a no-op change causes no churn (resourceVersion stays).
import { APPLY_PATCH, isNotFound, type KubeRest, PARTIAL_METADATA } from '../../../kube/kube_rest.ts';
import { CONFIG_HASH_ANNOTATION } from '../../../kube/replica_lease.ts';
import { SecretEncoding } from '../render/budget.ts';
import { CONFIG_KEY, contentHash, encodeData } from '../render/encode.ts';
import type { RenderResult } from '../render/render.ts';

export { SecretEncoding };

export const CONTENT_HASH_ANNOTATION = 'gateway.sluice.dev/content-hash';
export const MANAGED_BY = 'sluice-operator';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

export interface OutputOptions {
  namespace: string;
  configMapName: string;
  secretName: string;
  fieldManager: string;
  owner?: OwnerReference;
}

export interface WriteReport {
  configMapWritten: boolean;
  secretWritten: boolean;
  configMapBytes: number;
  secretBytes: number;
}

interface Live {
  metadata?: { annotations?: Record<string, string>; resourceVersion?: string };
}

function labels(): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'sluice',
    'app.kubernetes.io/component': 'dataplane-config',
    'app.kubernetes.io/managed-by': MANAGED_BY,
  };
}

async function liveHash(rest: KubeRest, path: string): Promise<string | undefined> {
  try {
    // the metadata only: the Secret's data (API-key hashes) is about a megabyte at 10,000 keys
    const obj = await rest.request<Live>('GET', path, { accept: PARTIAL_METADATA });
    return obj.metadata?.annotations?.[CONTENT_HASH_ANNOTATION];
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function apply(
  rest: KubeRest,
  path: string,
  body: Record<string, unknown>,
  fieldManager: string,
): Promise<void> {
  await rest.request('PATCH', path, {
    body,
    contentType: APPLY_PATCH,
    query: { fieldManager, force: 'true' },
    // the answer is the whole object (the 850 KB config, the key lists): only its metadata is read
    accept: PARTIAL_METADATA,
  });
}

/** Apply the Secret first: a config that names new secret files should find them when it lands. */
export async function writeOutputs(
  rest: KubeRest,
  result: RenderResult,
  o: OutputOptions,
  encoding = new SecretEncoding(),
): Promise<WriteReport> {
  const secret = encoding.of(`Secret ${o.namespace}/${o.secretName}`, result.secretData);
  const config = encodeData(`ConfigMap ${o.namespace}/${o.configMapName}`, {
    [CONFIG_KEY]: result.configText,
  });
  const meta = (name: string, hash: string, extra: Record<string, string> = {}) => ({
    name,
    namespace: o.namespace,
    labels: labels(),
    annotations: { [CONTENT_HASH_ANNOTATION]: hash, ...extra },
    ...(o.owner ? { ownerReferences: [{ ...o.owner, controller: false, blockOwnerDeletion: false }] } : {}),
  });

  // the owner is part of what is written: a new owner (a reinstalled operator) must be applied too
  const ownerKey = { '\u0000owner': o.owner?.uid ?? '' };
  const secretHash = contentHash({ ...secret.data, ...ownerKey });
  const secretPath = `/api/v1/namespaces/${o.namespace}/secrets/${o.secretName}`;
  const cmPath = `/api/v1/namespaces/${o.namespace}/configmaps/${o.configMapName}`;
  // both reads at once (one round trip less per render); the writes stay in order, Secret first
  const [liveSecretHash, liveConfigHash] = await Promise.all([
    liveHash(rest, secretPath),
    liveHash(rest, cmPath),
  ]);
  let secretWritten = false;
  if (liveSecretHash !== secretHash) {
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    await apply(
      rest,
      secretPath,
      { apiVersion: 'v1', kind: 'Secret', metadata: meta(o.secretName, secretHash), type: 'Opaque', data },
      o.fieldManager,
    );
    secretWritten = true;
  }

  const configHash = contentHash({ ...config.data, ...ownerKey });
  let configMapWritten = false;
  if (liveConfigHash !== configHash) {
    await apply(
      rest,
      cmPath,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: meta(o.configMapName, configHash, { [CONFIG_HASH_ANNOTATION]: result.hash }),
        data: config.data,
      },
      o.fieldManager,
    );
    configMapWritten = true;
  }
  return { configMapWritten, secretWritten, configMapBytes: config.bytes, secretBytes: secret.bytes };
}
