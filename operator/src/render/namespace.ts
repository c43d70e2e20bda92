// AINamespace -> dataplane namespace entry. API keys are hashed here: the plaintext never leaves the
// source Secret; the dataplane gets {name, sha256} lists through `apiKeysFile` in the output Secret.
import type { SecretSource } from '../../../dataplane/src/config/contract.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import { durationMs } from '../api/common.ts';
import { Findings } from './findings.ts';
import type { Rendered } from './provider.ts';
import type { RefIndex } from './refs.ts';
import { renderHeaderMatch } from './route.ts';
import { type SecretReader, secretFileName, sha256Hex } from './secrets.ts';
import { dataplaneName, keyOf, type NamespaceInput, namespaceOf } from './types.ts';
import { compact } from './util.ts';

export interface ApiKeyHash {
  name: string;
  sha256: string;
}

/** sha256 -> owning AINamespace key, to refuse one API key in two tenants. */
export type KeyOwners = Map<string, { owner: string; label: string }>;

export function renderNamespace(
  n: AINamespace,
  refs: RefIndex,
  secrets: SecretReader,
  secretOut: Record<string, string>,
  keyOwners: KeyOwners,
): Rendered<NamespaceInput> {
  const findings = new Findings();
  const ns = namespaceOf(n);
  const { spec } = n;
  const self = keyOf('AINamespace', n);
  const file = (item: string) => secretFileName('ainamespace', ns, n.metadata.name, item);

  let apiKeysFile: string | undefined;
  if (spec.match?.apiKeys) {
    const keys: ApiKeyHash[] = [];
    for (const [i, ref] of spec.match.apiKeys.secretRefs.entries()) {
      const data = secrets.entries(ns, ref.name, findings, `spec.match.apiKeys.secretRefs[${i}].name`);
      for (const entry of Object.keys(data ?? {}).sort()) {
        const value = (data?.[entry] ?? '').trim();
        if (!value) continue;
        const sha256 = sha256Hex(value);
        const label = `${ref.name}.${entry}`;
        const owner = keyOwners.get(sha256);
        if (owner && owner.owner !== self)
          findings.conflict(
            `API key "${label}" is also a key of ${owner.owner.replace(/^AINamespace\//, 'AINamespace ')}`,
          );
        else keyOwners.set(sha256, { owner: self, label });
        keys.push({ name: label, sha256 });
      }
    }
    apiKeysFile = file('apikeys.json');
    secretOut[apiKeysFile] = JSON.stringify(keys);
  }

  let jwt: NonNullable<NamespaceInput['match']>['jwt'];
  const j = spec.match?.jwt;
  if (j) {
    const source = (
      item: string,
      field: string,
      ref?: { name: string; key: string },
    ): SecretSource | undefined => {
      if (!ref) return undefined;
      const value = secrets.value(ns, ref.name, ref.key, findings, `spec.match.jwt.${field}`);
      if (value === undefined) return undefined;
      const f = file(item);
      if (value !== null) secretOut[f] = value;
      return { file: f };
    };
    const jwks = source('jwks.json', 'jwksSecretRef', j.jwksSecretRef);
    jwt = compact({
      issuer: j.issuer,
      audience: j.audience,
      algorithms: j.algorithms,
      secret: source('jwt-secret', 'secretRef', j.secretRef),
      publicKey: source('jwt-public-key.pem', 'publicKeySecretRef', j.publicKeySecretRef),
      jwksFile: jwks && 'file' in jwks ? jwks.file : undefined,
      claim: j.claim,
    });
  }

  const routes = spec.routes
    ? spec.routes.map((r, i) => refs.resolve('AIRoute', ns, r, findings, `spec.routes[${i}]`) ?? '')
    : refs.acceptedIn('AIRoute', ns);
  const policies = (spec.policies ?? []).map(
    (p, i) => refs.resolve('AIPolicy', ns, p, findings, `spec.policies[${i}]`) ?? '',
  );

  const input: NamespaceInput = compact({
    name: dataplaneName(ns, n.metadata.name),
    default: spec.default,
    match: compact({
      apiKeysFile,
      headers: spec.match?.headers?.map(renderHeaderMatch),
      jwt,
    }),
    routes,
    models: spec.models,
    policies,
    cache: spec.cache
      ? compact({
          enabled: spec.cache.enabled,
          ttlSeconds:
            spec.cache.ttl === undefined
              ? undefined
              : Math.max(1, Math.round(durationMs(spec.cache.ttl) / 1000)),
        })
      : undefined,
    limits: spec.limits?.maxBodyBytes ? { maxBodyBytes: spec.limits.maxBodyBytes } : undefined,
    cors: spec.cors
      ? compact({
          allowOrigins: spec.cors.allowOrigins,
          allowMethods: spec.cors.allowMethods,
          allowHeaders: spec.cors.allowHeaders?.map((h) => h.toLowerCase()),
          maxAgeSeconds: spec.cors.maxAgeSeconds,
        })
      : undefined,
  });
  return { findings, input };
}
