// Two tenants whose JWT rules could accept the same token. Each tenant chooses the claim that names
// it; the dataplane attributes a token to the one namespace whose keys verify it and refuses a token
// that several verify (dataplane/src/policy/jwt_tenants.ts). Verification keys of RS256/ES256 rules
// are public: any tenant admin can copy another tenant's JWKS or PEM into its own Secret. With the
// copy under another claim (say `aud`) and a name equal to a value the other tenant's tokens carry
// there, those tokens verify for both, so the dataplane refuses them: a newcomer could take an
// existing tenant's callers offline. Rendering keeps that from happening:
//   * two rules clash when they share a public key AND a token could name both: their claims differ
//     (under one claim a token names one namespace only) and their issuers do not tell them apart
//     (both set and different: a token has one `iss`; the audience cannot, `aud` may be a list);
//   * the older tenant (the order render.ts sorts tenants in: created first, then the one already
//     serving) keeps its tokens; the newer one's JWT rule is left out, KeyConflict naming the field.
//     "Neither", the rule for a shared API key or HS256 secret, fits secrets (whoever holds one can
//     act as the other); applied to public keys it would let anyone take any tenant offline.
// Tenants sharing a public key under the same claim (one identity provider for every tenant, each
// token naming its tenant) do not clash: that is the ordinary way to run it. HS256 rules are left to
// sharedKeys (namespace.ts): a shared secret is refused for both, whatever the claims.
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { checkJwks } from '../../../dataplane/src/config/contract.ts';
import type { AINamespace } from '../api/ainamespace.ts';
import { Findings } from './findings.ts';
import type { SecretReader } from './secrets.ts';
import { namespaceOf, type SecretEntries } from './types.ts';

export interface JwtKeyConflict {
  /** the field whose key another, older tenant already accepts tokens with */
  path: string;
  message: string;
}

type JwtSpec = NonNullable<NonNullable<AINamespace['spec']['match']>['jwt']>;

/** SHA-256 of each public key's SubjectPublicKeyInfo, per Secret data object (one per resourceVersion). */
const fingerprintCache = new WeakMap<SecretEntries, Map<string, readonly string[]>>();

function spkiDigest(key: ReturnType<typeof createPublicKey>): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The public keys a PEM or JWKS text holds (the ones the dataplane would verify with). */
function fingerprintsOf(text: string, jwks: boolean, algorithms: readonly string[]): string[] {
  try {
    if (!jwks) return [spkiDigest(createPublicKey(text))];
    const usable = checkJwks(text.trim(), algorithms).usable.keys;
    return usable.map((k) => spkiDigest(createPublicKey({ key: k as JsonWebKey, format: 'jwk' })));
  } catch {
    // a key that does not parse verifies nothing: the tenant's own render reports it
    return [];
  }
}

function ruleKeys(
  n: AINamespace,
  j: JwtSpec,
  secrets: SecretReader,
): { path: string; keys: readonly string[] } {
  const jwks = j.jwksSecretRef !== undefined;
  const ref = j.jwksSecretRef ?? j.publicKeySecretRef;
  const path = `spec.match.jwt.${jwks ? 'jwksSecretRef' : 'publicKeySecretRef'}`;
  if (!ref) return { path, keys: [] };
  const data = secrets.entries(namespaceOf(n), ref.name, new Findings(), path);
  const text = data?.[ref.key];
  if (!data || !text?.trim()) return { path, keys: [] };
  let perData = fingerprintCache.get(data);
  if (!perData) {
    perData = new Map();
    fingerprintCache.set(data, perData);
  }
  const cacheKey = `${ref.key}\0${jwks}\0${[...j.algorithms].sort().join(',')}`;
  let keys = perData.get(cacheKey);
  if (!keys) {
    keys = fingerprintsOf(text, jwks, j.algorithms);
    perData.set(cacheKey, keys);
  }
  return { path, keys };
}

/** Who already accepts tokens signed by one key: claim name -> issuers ('' for none). */
type Holders = Map<string, Map<string, string>>;

/** An older holder that a token naming this rule could also name, or undefined. */
function clash(holders: Holders, claim: string, issuer: string): string | undefined {
  for (const [other, byIssuer] of holders) {
    if (other === claim) continue;
    if (issuer === '') {
      const first = byIssuer.values().next();
      if (!first.done) return first.value;
    } else {
      const owner = byIssuer.get(issuer) ?? byIssuer.get('');
      if (owner) return owner;
    }
  }
  return undefined;
}

/**
 * The tenants (of `tenants`, oldest first) whose RS256/ES256 rule shares a public key with an older
 * tenant's rule that a token could also match: their JWT rule is not rendered.
 */
export function jwtKeyConflicts(
  tenants: readonly AINamespace[],
  secrets: SecretReader,
): ReadonlyMap<AINamespace, JwtKeyConflict> {
  const byKey = new Map<string, Holders>();
  const out = new Map<AINamespace, JwtKeyConflict>();
  for (const n of tenants) {
    const j = n.spec.match?.jwt;
    if (!j || j.algorithms.includes('HS256')) continue;
    const { path, keys } = ruleKeys(n, j, secrets);
    if (keys.length === 0) continue;
    const claim = j.claim ?? 'namespace';
    const issuer = j.issuer ?? '';
    let older: string | undefined;
    for (const k of keys) {
      const holders = byKey.get(k);
      older = holders && clash(holders, claim, issuer);
      if (older) break;
    }
    if (older) {
      out.set(n, {
        path,
        message: `a public key of ${path} already verifies the tokens of ${older} (created earlier), whose JWT rule names another claim and ${issuer ? 'the same or no' : 'an'} issuer: a token could name both, so only ${older} accepts them: tokens naming this tenant too are served as ${older} (use a signing key of your own, the same claim, or another issuer)`,
      });
      continue;
    }
    const label = `AINamespace ${namespaceOf(n)}/${n.metadata.name}`;
    for (const k of keys) {
      const holders = byKey.get(k) ?? new Map<string, Map<string, string>>();
      byKey.set(k, holders);
      const byIssuer = holders.get(claim) ?? new Map<string, string>();
      holders.set(claim, byIssuer);
      if (!byIssuer.has(issuer)) byIssuer.set(issuer, label);
    }
  }
  return out;
}
