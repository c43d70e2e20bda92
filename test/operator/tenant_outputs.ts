// Reading back what the operator wrote for tenants (the rendered ConfigMap's namespace entries and the
// API-key lists in the rendered Secret), and the smallest provider + route a tenant can use. Shared
// by the suites that check tenants end to end (output_budget, platform_policies, deleting).
import { decodeStoredText, parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import type { KubeRest } from '../../kube/kube_rest.ts';
import { apply, applySecret, type ConfigMap, cmPath, cr, get, secretPath } from './helpers.ts';

/** The rendered config's entry for a dataplane namespace name (e.g. team-a.t), if any. */
export async function tenantEntry(rest: KubeRest, name: string) {
  const text = (await get<ConfigMap>(rest, cmPath))?.data?.['config.yaml'];
  return text
    ? validateConfig(parseConfigText(text, 'config.yaml')).namespaces.find((n) => n.name === name)
    : undefined;
}

/** The key names of a tenant's API-key list in the rendered Secret, or undefined without one. */
export async function renderedKeyNames(
  rest: KubeRest,
  ns: string,
  name: string,
): Promise<string[] | undefined> {
  const raw = (await get<{ data?: Record<string, string> }>(rest, secretPath))?.data?.[
    `ainamespace.${ns}.${name}.apikeys.json`
  ];
  if (raw === undefined) return undefined;
  const list = JSON.parse(decodeStoredText(Buffer.from(raw, 'base64').toString('utf8')));
  return list.map((k: { name: string }) => k.name);
}

/** AIProvider `p` (its key in Secret `p-key`) and AIRoute `chat` to it, in `ns`. */
export async function applyProviderAndRoute(rest: KubeRest, ns: string): Promise<void> {
  await applySecret(rest, ns, 'p-key', { apiKey: 'sk-provider' });
  await apply(
    rest,
    cr('AIProvider', 'p', ns, { type: 'openai', credentials: { apiKeySecretRef: { name: 'p-key' } } }),
  );
  await apply(rest, cr('AIRoute', 'chat', ns, { backends: [{ providerRef: { name: 'p' } }] }));
}
