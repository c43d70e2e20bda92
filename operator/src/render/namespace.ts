// AINamespace -> dataplane namespace entry. API keys are hashed here: the plaintext never leaves the
// source Secret; the dataplane gets {name, sha256} lists through `apiKeysFile` in the output Secret.
import { checkJwks } from '../../../dataplane/src/config/contract.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import { durationMs } from '../api/common.ts';
import { Findings } from './findings.ts';
import { type JwtKeyConflict, jwtKeyConflicts } from './jwt_conflicts.ts';
import type { Rendered } from './provider.ts';
import type { RefIndex } from './refs.ts';
import { renderHeaderMatch } from './route.ts';
import { type SecretReader, secretFileName, sha256Hex } from './secrets.ts';
import { withoutSecrets } from './status_text.ts';
import { dataplaneName, type NamespaceInput, namespaceOf, type SecretEntries } from './types.ts';
import { compact } from './util.ts';

export interface ApiKeyHash {
  name: string;
  sha256: string;
}

/** SHA-256 digests of credentials more than one tenant holds (neither accepts them). */
export interface SharedKeys {
  /** API keys listed by two tenants */
  apiKeys: ReadonlySet<string>;
  /** HS256 secrets of two tenants' JWT rules: a holder of one could sign tokens naming the other */
  hmacSecrets: ReadonlySet<string>;
  /** newer tenants whose public key an older tenant accepts the same tokens with (jwt_conflicts.ts) */
  jwtKeys: ReadonlyMap<AINamespace, JwtKeyConflict>;
}

/**
 * SHA-256 of each non-empty value of a Secret's data, computed once per data object: the operator
 * keeps one decoded object per Secret resourceVersion, so 10,000 keys are hashed when their Secret
 * changes, not on every render.
 */
const hashed = new WeakMap<SecretEntries, Map<string, string>>();
/**
 * A value with a line break or another control character can never arrive in a header, so it is
 * no key: typically a file of keys, one per line, stored as one entry (`--from-file`), which
 * used to be hashed whole and accepted while none of its keys worked.
 */
function fitsAHeader(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}
const UNUSABLE = '';
function hashesOf(data: SecretEntries): Map<string, string> {
  let out = hashed.get(data);
  if (!out) {
    out = new Map();
    for (const [entry, raw] of Object.entries(data)) {
      const value = raw.trim();
      if (value) out.set(entry, fitsAHeader(value) ? sha256Hex(value) : UNUSABLE);
    }
    hashed.set(data, out);
  }
  return out;
}

interface KeyList {
  /** the decoded Secrets it was built from, one per secretRef */
  sources: ReadonlyArray<SecretEntries | undefined>;
  /** and the secretRefs' names (they label the keys) */
  names: string;
  keys: ApiKeyHash[];
  /** entries that cannot be keys (fitsAHeader), as <secret>.<entry> */
  unusable: string[];
  json: string;
}

/**
 * A tenant's hashed key list and its JSON, rebuilt only when the tenant object or one of its Secrets
 * (a new decoded object per resourceVersion) changed; the same text then reaches the preflight,
 * which rewrites no unchanged file.
 */
const keyLists = new WeakMap<AINamespace, KeyList>();
function apiKeyList(n: AINamespace, sources: ReadonlyArray<SecretEntries | undefined>): KeyList {
  const refs = n.spec.match?.apiKeys?.secretRefs ?? [];
  const names = refs.map((r) => r.name).join('\0');
  const known = keyLists.get(n);
  if (
    known?.names === names &&
    known.sources.length === sources.length &&
    known.sources.every((s, i) => s === sources[i])
  )
    return known;
  const keys: ApiKeyHash[] = [];
  // one key listed twice by the same tenant (the old and the new Secret during a rotation, or two
  // entries of one Secret) is listed once, under its first name: the dataplane refuses a key that
  // appears twice in its table, and the tenant was rejected for clashing with itself
  const seen = new Set<string>();
  const unusable: string[] = [];
  refs.forEach((ref, i) => {
    const data = sources[i];
    if (!data) return;
    const hashes = hashesOf(data);
    for (const entry of Object.keys(data).sort()) {
      const sha256 = hashes.get(entry);
      if (sha256 === UNUSABLE) unusable.push(`${ref.name}.${entry}`);
      if (!sha256 || seen.has(sha256)) continue;
      seen.add(sha256);
      keys.push({ name: `${ref.name}.${entry}`, sha256 });
    }
  });
  const list = { sources, names, keys, unusable, json: JSON.stringify(keys) };
  keyLists.set(n, list);
  return list;
}

/** Up to ten names, quoted, and how many more. */
function quoteSome(names: readonly string[]): string {
  const some = names.slice(0, 10).map((n) => `"${n}"`);
  return names.length > 10 ? `${some.join(', ')} and ${names.length - 10} more` : some.join(', ');
}

/** The platform's AIPolicies, which apply to every tenant (RenderOptions.platformNamespace). */
export interface PlatformPolicies {
  namespace: string;
  names: readonly string[];
}

function tenantKeys(n: AINamespace, secrets: SecretReader, findings: Findings): KeyList | undefined {
  const refs = n.spec.match?.apiKeys?.secretRefs;
  if (!refs) return undefined;
  const ns = namespaceOf(n);
  const sources = refs.map((ref, i) =>
    secrets.entries(ns, ref.name, findings, `spec.match.apiKeys.secretRefs[${i}].name`),
  );
  return apiKeyList(n, sources);
}

/**
 * The API keys listed by more than one tenant. Such a key is served by neither, and both keep their
 * other keys: when the older tenant kept it, a tenant that learnt another's key could add it to its
 * own Secret and be served the other tenant's callers (their prompts on its routes), and the newer
 * tenant lost every key it had, not just the shared one.
 */
export function sharedKeys(tenants: readonly AINamespace[], secrets: SecretReader): SharedKeys {
  const first = new Map<string, AINamespace>();
  const apiKeys = new Set<string>();
  const hmacSecrets = new Set<string>();
  const note = (digest: string, n: AINamespace, into: Set<string>) => {
    const owner = first.get(digest);
    if (!owner) first.set(digest, n);
    else if (owner !== n) into.add(digest);
  };
  for (const n of tenants)
    for (const { sha256 } of tenantKeys(n, secrets, new Findings())?.keys ?? []) note(sha256, n, apiKeys);
  first.clear();
  for (const n of tenants) {
    const digest = hmacDigest(n, secrets, new Findings());
    if (digest) note(digest, n, hmacSecrets);
  }
  return { apiKeys, hmacSecrets, jwtKeys: jwtKeyConflicts(tenants, secrets) };
}

/**
 * The digest of a tenant's HS256 secret (as the dataplane reads it: trimmed). Two tenants with one
 * secret (a template's, copied to every namespace) could each sign tokens naming the other: the
 * claim only says which tenant's key verifies the token, and both keys are the same.
 */
function hmacDigest(n: AINamespace, secrets: SecretReader, findings: Findings): string | undefined {
  const ref = n.spec.match?.jwt?.secretRef;
  if (!ref) return undefined;
  const value = secrets.value(namespaceOf(n), ref.name, ref.key, findings, 'spec.match.jwt.secretRef');
  return value ? sha256Hex(value.trim()) : undefined;
}

export function renderNamespace(
  n: AINamespace,
  refs: RefIndex,
  secrets: SecretReader,
  secretOut: Record<string, string>,
  shared: SharedKeys,
  platform?: PlatformPolicies,
): Rendered<NamespaceInput> {
  const findings = new Findings();
  const ns = namespaceOf(n);
  const { spec } = n;
  const file = (item: string) => secretFileName('ainamespace', ns, n.metadata.name, item);

  let apiKeysFile: string | undefined;
  const list = tenantKeys(n, secrets, findings);
  if (list) {
    if (list.unusable.length > 0)
      findings.leftOut(
        'InvalidApiKey',
        `Secret entries ${quoteSome(list.unusable)} hold a line break or control character, which no client can send: each entry is one API key (--from-literal=NAME=KEY, not a file of keys)`,
        'spec.match.apiKeys.secretRefs',
      );
    let json = list.json;
    if (shared.apiKeys.size > 0 && list.keys.some((k) => shared.apiKeys.has(k.sha256))) {
      const clashing = list.keys.filter((k) => shared.apiKeys.has(k.sha256)).map((k) => k.name);
      const named = quoteSome(clashing);
      findings.leftOut(
        'KeyConflict',
        `API key ${named} ${clashing.length > 1 ? 'are also keys' : 'is also a key'} of another AINamespace, so neither serves ${clashing.length > 1 ? 'them' : 'it'} (replace it in one of them)`,
        'spec.match.apiKeys',
      );
      json = JSON.stringify(list.keys.filter((k) => !shared.apiKeys.has(k.sha256)));
    }
    apiKeysFile = file('apikeys.json');
    secretOut[apiKeysFile] = json;
  }

  let jwt: NonNullable<NamespaceInput['match']>['jwt'];
  const j = spec.match?.jwt;
  const hmac = shared.hmacSecrets.size > 0 ? hmacDigest(n, secrets, new Findings()) : undefined;
  if (j && hmac && shared.hmacSecrets.has(hmac))
    findings.leftOut(
      'KeyConflict',
      'the HS256 secret is also the secret of another AINamespace: either could sign tokens naming the other, so neither accepts tokens (give each its own secret)',
      'spec.match.jwt.secretRef',
    );
  else if (j && shared.jwtKeys.has(n)) {
    // its rule is left out; its API keys, if any, still serve
    const lost = shared.jwtKeys.get(n) as JwtKeyConflict;
    findings.leftOut('KeyConflict', lost.message, lost.path);
  } else if (j) {
    const source = (
      item: string,
      field: string,
      ref?: { name: string; key: string },
    ): { file: string } | undefined => {
      if (!ref) return undefined;
      const value = secrets.value(ns, ref.name, ref.key, findings, `spec.match.jwt.${field}`);
      if (value === undefined) return undefined;
      const f = file(item);
      if (value !== null) secretOut[f] = value;
      return { file: f };
    };
    const jwks = source('jwks.json', 'jwksSecretRef', j.jwksSecretRef);
    const unusable = jwks ? jwksProblem(j, secretOut[jwks.file]) : undefined;
    if (unusable) {
      // not rendered at all, so no replica ever serves it: the tenant is rejected (its callers get
      // 403 through its other rules, or 401), and its status names the Secret and the reason
      findings.ref('InvalidJWKS', unusable, 'spec.match.jwt.jwksSecretRef');
      if (jwks) delete secretOut[jwks.file];
    } else
      jwt = compact({
        issuer: j.issuer,
        audience: j.audience,
        algorithms: j.algorithms,
        secret: source('jwt-secret', 'secretRef', j.secretRef),
        publicKey: source('jwt-public-key.pem', 'publicKeySecretRef', j.publicKeySecretRef),
        jwksFile: jwks?.file,
        claim: j.claim,
      });
  }

  // a listed route that is missing or not accepted is left out of the list (Accepted, ResolvedRefs
  // False naming it): the tenant may use less, never more, and its other routes keep serving.
  // Rejecting the tenant instead turned the platform's deletion of one route into a 403 for every
  // request of every tenant that listed it.
  const routes = spec.routes
    ? spec.routes.flatMap((r, i) => {
        const c = refs.check('AIRoute', ns, r);
        if (!('problem' in c)) return [c.dataplaneName];
        findings.leftOut(c.reason, c.problem, `spec.routes[${i}]`);
        return [];
      })
    : refs.acceptedIn('AIRoute', ns);
  const policies = (spec.policies ?? []).map(
    (p, i) => refs.resolve('AIPolicy', ns, p, findings, `spec.policies[${i}]`) ?? '',
  );
  policies.push(...platformPolicies(ns, spec.policies ?? [], refs, findings, platform));

  const input: NamespaceInput = compact({
    name: dataplaneName(ns, n.metadata.name),
    default: spec.default,
    match: compact({
      apiKeysFile,
      // rules that narrow credentials never stand alone: with the credentials left out (an HS256
      // secret another tenant shares) they made a header-only tenant, served without any token
      headers:
        spec.match?.apiKeys || spec.match?.jwt
          ? apiKeysFile || jwt
            ? spec.match.headers?.map(renderHeaderMatch)
            : undefined
          : spec.match?.headers?.map(renderHeaderMatch),
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

/**
 * Why the JWKS a tenant names cannot verify any of its tokens (checkJwks, the dataplane's own check),
 * or undefined when it can or its Secret is not read (offline, without Secrets).
 */
function jwksProblem(j: NonNullable<NonNullable<AINamespace['spec']['match']>['jwt']>, text?: string) {
  const ref = j.jwksSecretRef;
  if (text === undefined || !ref) return undefined;
  const { problem } = checkJwks(text.trim(), j.algorithms);
  // the check quotes up to 37 characters of a key's members (kty, crv, alg, use); the tenant may name
  // a Secret of its namespace it cannot read itself, so no piece of it reaches its status (status_text.ts)
  return (
    problem &&
    `the JWKS in Secret "${ref.name}" key "${ref.key}" (spec.match.jwt.jwksSecretRef) ${withoutSecrets(problem, [text])}`
  );
}

/**
 * The platform's policies for a tenant: all of them, after its own. One that is not usable fails the
 * tenant closed (it would otherwise run without the platform's limits), naming the policy.
 */
function platformPolicies(
  ns: string,
  own: readonly string[],
  refs: RefIndex,
  findings: Findings,
  platform: PlatformPolicies | undefined,
): string[] {
  if (!platform) return [];
  const out: string[] = [];
  for (const name of platform.names) {
    if (ns === platform.namespace && own.includes(name)) continue;
    const r = refs.check('AIPolicy', platform.namespace, name);
    if ('problem' in r)
      findings.ref(
        r.reason,
        `platform ${r.problem.replace(`"${name}"`, `"${platform.namespace}/${name}"`)}`,
        'spec.policies',
      );
    else out.push(r.dataplaneName);
  }
  return out;
}
