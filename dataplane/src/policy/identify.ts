// Which namespace (tenant) is calling. Precedence, first match wins:
//   1. an API key (Authorization: Bearer, x-api-key or api-key) whose SHA-256 is listed by a namespace;
//   2. a JWT in Authorization: Bearer, verified with the keys of every namespace its claims name,
//      and attributed only when exactly one verifies it (jwt_tenants.ts);
//   3. a namespace matched by headers alone (e.g. X-Channel-Code), for callers on a trusted network:
//      exact header values only, and no two such namespaces can match one request (config/tenancy.ts);
//      the caller is identified by the headers, and a credential it sends that is no tenant's key is
//      not checked (the SDKs insist on sending one);
//   4. the default namespace, only when the request carries no credentials at all (an Authorization
//      header in another scheme than Bearer counts as credentials: it is refused, never served).
// Otherwise credentials that match nothing are a 401, never a silent fall-through to the default tenant.
// A namespace that lists both keys/JWT and headers requires both (the headers narrow the credential).
import { createHash, hash } from 'node:crypto';
import { compileHeaderMatch } from '../compiled/route.ts';
import { ConfigError } from '../config/load.ts';
import type { ReuseCache } from '../config/reuse_cache.ts';
import type { NamespaceConfig, SecretSource } from '../config/schema.ts';
import type { Slicer, Steps } from '../config/steps.ts';
import { runSteps } from '../config/steps.ts';
import { isHeaderOnly } from '../config/tenancy.ts';
import { GatewayError } from '../errors.ts';
import type { Identity, RequestHeaders } from '../proxy/policy_interface.ts';
import { describeParseError } from '../security/parse_errors.ts';
import { apiKeyCaller, jwtCaller } from './caller.ts';
import { compileJwt, looksLikeJwt, unverifiedClaims } from './jwt.ts';
import { type JwtLog, JwtTenants } from './jwt_tenants.ts';

type Getter = (name: string) => string | undefined;

interface KeyEntry {
  sha256: string;
  namespace: string;
  keyName: string;
  /** apiKeyCaller(keyName), computed once at load */
  caller: string;
}

function keyEntry(namespace: string, k: { name: string; sha256: string }): KeyEntry {
  return { sha256: k.sha256, namespace, keyName: k.name, caller: apiKeyCaller(k.name) };
}

/** A namespace's entries from its key file's text, reused when an earlier load read the same text. */
function* fileEntries(namespace: string, text: string, path: string, cache?: ReuseCache): Steps<KeyEntry[]> {
  // by digest: a key file is ~100 KB at 1,000 keys, and the cache would hold its text as a key
  const key = `apikeys\0${namespace}\0${sha256Hex(text)}`;
  const known = cache?.get<KeyEntry[]>(key);
  if (known) return known;
  const listed = yield* parseKeysFile(text, path);
  const entries: KeyEntry[] = [];
  for (let n = 0; n < listed.length; n++) {
    if (n % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
    entries.push(keyEntry(namespace, listed[n] as { name: string; sha256: string }));
  }
  cache?.set(key, entries);
  return entries;
}

interface HeaderRule {
  namespace: string;
  matches: (get: Getter) => boolean;
  /** true when the namespace also needs credentials, so the headers alone do not identify it */
  withCredentials: boolean;
}

const WWW_AUTHENTICATE = { 'www-authenticate': 'Bearer realm="sluice"' };

function unauthenticated(message: string): GatewayError {
  return new GatewayError('SLUICE_ERR_UNAUTHENTICATED', message, { headers: WWW_AUTHENTICATE });
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function headerGetter(headers: RequestHeaders): Getter {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/** The presented credential, from the headers OpenAI, Anthropic and Azure clients use. */
export function presentedCredential(get: Getter): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(get('authorization')?.trim() ?? '')?.[1]?.trim();
  return bearer || get('x-api-key')?.trim() || get('api-key')?.trim() || undefined;
}

/** API keys checked or registered between two pause points. */
const KEYS_PER_STEP = 500;

function* parseKeysFile(text: string, path: string): Steps<Array<{ name: string; sha256: string }>> {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    // never the parser's own message: it quotes the file (a misplaced secret, say)
    throw new ConfigError('config', [{ path, message: `not JSON: ${describeParseError(err)}` }]);
  }
  if (!Array.isArray(list)) throw new ConfigError('config', [{ path, message: 'must be a JSON list' }]);
  const out: Array<{ name: string; sha256: string }> = [];
  for (let i = 0; i < list.length; i++) {
    if (i % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
    const o = list[i] as { name?: unknown; sha256?: unknown };
    if (typeof o?.name !== 'string' || typeof o.sha256 !== 'string' || !/^[a-f0-9]{64}$/.test(o.sha256))
      throw new ConfigError('config', [
        { path: `${path}[${i}]`, message: 'needs {name, sha256} with a lowercase hex SHA-256 digest' },
      ]);
    out.push({ name: o.name, sha256: o.sha256 });
  }
  return out;
}

export class Identifier {
  readonly #keys = new Map<string, KeyEntry>();
  readonly #jwt: JwtTenants;
  readonly #headerRules = new Map<string, HeaderRule>();
  readonly #headerOnly: HeaderRule[] = [];
  /** header-only rules of rejected namespaces: tried after every served one (they only refuse) */
  readonly #headerOnlyRejected: HeaderRule[] = [];
  #default: string | undefined;
  readonly #rejected = new Set<string>();

  /** Builds it in one go; `Identifier.load` builds the same in slices. */
  constructor(
    namespaces: NamespaceConfig[],
    readSecret: (s: SecretSource, path?: string) => string,
    log?: JwtLog,
  ) {
    this.#jwt = new JwtTenants(log);
    runSteps(this.#fill(namespaces, readSecret));
  }

  /**
   * For a hot reload: ten thousand keys are read, checked and indexed without holding the event loop.
   * With a cache, a key file whose text an earlier load parsed for the same namespace is not parsed
   * again (its entries are immutable); the table across namespaces (and its clash check) is rebuilt.
   */
  static async load(
    namespaces: NamespaceConfig[],
    readSecret: (s: SecretSource, path?: string) => string,
    slicer: Slicer,
    cache?: ReuseCache,
    log?: JwtLog,
  ): Promise<Identifier> {
    const id = new Identifier([], readSecret, log);
    await slicer.run(id.#fill(namespaces, readSecret, cache));
    return id;
  }

  *#fill(
    namespaces: NamespaceConfig[],
    readSecret: (s: SecretSource, path?: string) => string,
    cache?: ReuseCache,
  ): Steps<void> {
    for (const [i, ns] of namespaces.entries()) {
      const path = `namespaces[${i}].match`;
      let keys = (ns.match.apiKeys ?? []).map((k) => keyEntry(ns.name, k));
      if (ns.match.apiKeysFile) {
        const text = readSecret({ file: ns.match.apiKeysFile }, `${path}.apiKeysFile`);
        yield;
        const listed = yield* fileEntries(ns.name, text, `${path}.apiKeysFile`, cache);
        keys = keys.length ? [...keys, ...listed] : listed;
      }
      for (let n = 0; n < keys.length; n++) {
        if (n % KEYS_PER_STEP === KEYS_PER_STEP - 1) yield;
        const k = keys[n] as KeyEntry;
        const other = this.#keys.get(k.sha256);
        if (other)
          throw new ConfigError('config', [
            {
              path: `${path}.apiKeys`,
              message: `key "${k.keyName}" is also listed by namespace "${other.namespace}"`,
            },
          ]);
        this.#keys.set(k.sha256, k);
      }
      if (ns.match.jwt) this.#jwt.add(compileJwt(ns.name, ns.match.jwt, `${path}.jwt`, readSecret));
      const headers = ns.match.headers ?? [];
      if (headers.length > 0) {
        const matchers = headers.map(compileHeaderMatch);
        const rule: HeaderRule = {
          namespace: ns.name,
          matches: (get) => matchers.every((m) => m(get)),
          // as the tenancy check decides (isHeaderOnly): a namespace that names a key file or a
          // JWT rule is identified by them even when its key list is empty; its header rules only
          // narrow them. Counting the keys instead made such a namespace header-only, unchecked:
          // a `regex: ".*"` rule and an empty key list took every caller without a valid key
          withCredentials: !isHeaderOnly(ns),
        };
        this.#headerRules.set(ns.name, rule);
        if (!rule.withCredentials) (ns.rejected ? this.#headerOnlyRejected : this.#headerOnly).push(rule);
      }
      yield;
    }
    this.#default = namespaces.find((n) => n.default)?.name;
    for (const ns of namespaces) if (ns.rejected) this.#rejected.add(ns.name);
  }

  #checkHeaders(namespace: string, get: Getter): void {
    const rule = this.#headerRules.get(namespace);
    if (rule && !rule.matches(get))
      throw new GatewayError(
        'SLUICE_ERR_FORBIDDEN',
        `the credentials of namespace '${namespace}' are not valid with these request headers`,
      );
  }

  #byKey(credential: string): KeyEntry | undefined {
    // The map is keyed by the SHA-256 of the presented key: a lookup's timing depends only on the
    // attacker's own digest, never on how close the key is to a stored one. (A constant-time compare
    // after the lookup could never fail: the map already matched the whole digest.) The one-shot
    // hash() to hex costs ~0.3 us where a Hash object, a Buffer and its hex cost ~1.3 us per request.
    return this.#keys.get(hash('sha256', credential, 'hex'));
  }

  async #byJwt(token: string): Promise<Identity | undefined> {
    const claims = unverifiedClaims(token);
    if (!claims) return undefined;
    const found = await this.#jwt.resolve(token, claims);
    if (found.kind === 'none')
      throw unauthenticated('the token does not name a namespace this gateway knows');
    if (found.kind === 'refused') throw unauthenticated(found.message);
    const { namespace, payload } = found;
    if (typeof payload.sub !== 'string') return { namespace };
    return { namespace, keyName: `jwt:${payload.sub}`, caller: jwtCaller(payload.sub) };
  }

  /**
   * The calling namespace. A namespace the operator rejected is still matched (so its callers never
   * fall through to another tenant, e.g. the default one) but refused with 403. A caller known from
   * its key or headers is returned as it is (no promise on the request path); a JWT check, and every
   * refusal, is a promise (a refusal is rejected, never thrown).
   */
  identify(headers: RequestHeaders): Identity | Promise<Identity> {
    let id: Identity | Promise<Identity>;
    try {
      id = this.#match(headers);
      if (!(id instanceof Promise)) return this.#served(id);
    } catch (err) {
      return Promise.reject(err);
    }
    return id.then((known) => this.#served(known));
  }

  #served(id: Identity): Identity {
    if (this.#rejected.has(id.namespace))
      throw new GatewayError(
        'SLUICE_ERR_FORBIDDEN',
        `namespace '${id.namespace}' is not served: its configuration was rejected (see the AINamespace's status)`,
      );
    return id;
  }

  #match(headers: RequestHeaders): Identity | Promise<Identity> {
    const get = headerGetter(headers);
    const credential = presentedCredential(get);
    if (credential) {
      const key = this.#byKey(credential);
      if (key) {
        this.#checkHeaders(key.namespace, get);
        return { namespace: key.namespace, keyName: key.keyName, caller: key.caller };
      }
      if (this.#jwt.size > 0 && looksLikeJwt(credential))
        return this.#byJwt(credential).then((id) => {
          if (!id) return this.#withoutKey(get, credential);
          this.#checkHeaders(id.namespace, get);
          return id;
        });
    }
    return this.#withoutKey(get, credential);
  }

  /** No key or token matched: a header-identified namespace, the default one, or a 401. */
  #withoutKey(get: (name: string) => string | undefined, credential: string | undefined): Identity {
    // Header-identified callers may still send a placeholder key (SDKs insist on one).
    for (const rule of this.#headerOnly) if (rule.matches(get)) return { namespace: rule.namespace };
    // a rejected tenant's callers get 403, not the default tenant; a served tenant's rule came first
    for (const rule of this.#headerOnlyRejected) if (rule.matches(get)) return { namespace: rule.namespace };
    if (credential) throw unauthenticated('invalid API key');
    // `Authorization: <key>` or `Basic ...` carries a credential too, just not one Sluice reads: the
    // default tenant would serve it with someone's key on the wire, so it is refused like a wrong key
    if (get('authorization')?.trim())
      throw unauthenticated(
        'the Authorization header is not "Bearer <key>": send the API key as "Authorization: Bearer <key>", "x-api-key" or "api-key"',
      );
    if (this.#default) return { namespace: this.#default };
    throw unauthenticated(
      'missing credentials: send an API key as "Authorization: Bearer <key>", "x-api-key" or "api-key"',
    );
  }
}
