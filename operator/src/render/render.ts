// Renders every custom resource into ONE dataplane config, through the dataplane's own schema and
// checks (validateConfig), plus the data of the Secret that holds credentials and API-key hashes.
// Used by the operator and by `sluice render`, so what CI renders is what the cluster gets.
//
// An object that cannot be rendered is left out (and reported), never allowed to break the others:
// when the dataplane's checks reject an entry, its owner is excluded and the pass is repeated, so
// cascades (a provider dropped -> its routes unresolved) come out right.
import {
  ConfigError,
  configHash,
  HeaderTenants,
  type SluiceConfig,
  type SluiceConfigInput,
  validateConfig,
} from '../../../dataplane/src/config/contract.ts';
import { configJson } from './encode.ts';
import { Findings } from './findings.ts';
import { renderNamespace, sharedKeys } from './namespace.ts';
import { renderPolicy } from './policy.ts';
import { renderProvider } from './provider.ts';
import { RefIndex } from './refs.ts';
import { renderRouteReusing } from './reuse.ts';
import { routeOrder } from './route.ts';
import { SecretReader } from './secrets.ts';
import { StatusText } from './status_text.ts';
import { suspendedMessage } from './suspended.ts';
import { claimHeaders, denyEntry, escalateDeny, isServing } from './tenants.ts';
import {
  byNamespaceName,
  dataplaneName,
  type Inventory,
  type Kind,
  keyOf,
  namespaceOf,
  type Outcome,
  type Problem,
  type RenderOptions,
} from './types.ts';

export interface RenderResult {
  /** the validated config, or undefined when nothing can be served (no accepted provider or route) */
  config?: SluiceConfig;
  /** what configText was serialised from (stamped with the revision before it is written) */
  input?: SluiceConfigInput;
  /** JSON text of the config as written to the ConfigMap ('' when there is no config); see configJson */
  configText: string;
  /** the hash the dataplane reports once it has loaded this config ('' when there is no config) */
  hash: string;
  /** output Secret data: file name -> value, only for accepted objects */
  secretData: Record<string, string>;
  outcomes: Outcome[];
  /** why there is no config, when there is none */
  emptyReason?: string;
  /** which object produced each entry of each config list (to blame the owner of a later problem) */
  owners: Record<'providers' | 'routes' | 'namespaces' | 'policies', string[]>;
}

/** The deployment-level part of the config (base) is wrong: no object is to blame. */
export class RenderError extends Error {
  override name = 'RenderError';
}

interface Pass {
  input?: SluiceConfigInput;
  secretData: Record<string, string>;
  outcomes: Outcome[];
  /** owner key of each entry, per config list, by index */
  owners: Record<'providers' | 'routes' | 'namespaces' | 'policies', string[]>;
  emptyReason?: string;
}

/** the longest name the dataplane's config takes (dataplane/src/config/schema_shared.ts) */
const NAME_MAX = 253;

function creation(o: { metadata: { creationTimestamp?: string | Date } }): number {
  const t = o.metadata.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

function renderPass(inv: Inventory, opts: RenderOptions, rejected: ReadonlyMap<string, Problem>): Pass {
  const secrets = new SecretReader(inv, opts.assumeSecrets);
  const refs = new RefIndex();
  const secretData: Record<string, string> = {};
  const owners: Pass['owners'] = { providers: [], routes: [], namespaces: [], policies: [] };
  const lists = {
    providers: [] as NonNullable<SluiceConfigInput['providers']>,
    routes: [] as NonNullable<SluiceConfigInput['routes']>,
    namespaces: [] as NonNullable<SluiceConfigInput['namespaces']>,
    policies: [] as NonNullable<SluiceConfigInput['policies']>,
  };

  const record = <T>(
    kind: Kind,
    obj:
      | Inventory['providers'][number]
      | Inventory['routes'][number]
      | Inventory['namespaces'][number]
      | Inventory['policies'][number],
    findings: Findings,
    input: T,
    objSecrets: Record<string, string>,
    list: keyof Pass['owners'],
  ) => {
    const key = keyOf(kind, obj);
    const why = rejected.get(key);
    if (why) findings.invalid(why.message, why.path);
    const ns = namespaceOf(obj);
    const tooLong = dataplaneName(ns, obj.metadata.name).length - NAME_MAX;
    if (tooLong > 0)
      findings.invalid(
        `the dataplane names it "<namespace>.<name>", at most ${NAME_MAX} characters: ${tooLong} too many`,
        'metadata.name',
      );
    const outcome = findings.outcome({
      key,
      kind,
      namespace: ns,
      name: obj.metadata.name,
      generation: obj.metadata.generation ?? 0,
      dataplaneName: dataplaneName(ns, obj.metadata.name),
    });
    const suspended = suspendedMessage(kind, obj);
    if (suspended) outcome.suspended = suspended;
    refs.add(outcome);
    if (!outcome.accepted.ok) return outcome;
    Object.assign(secretData, objSecrets);
    (lists[list] as T[]).push(input);
    owners[list].push(key);
    return outcome;
  };

  for (const p of byNamespaceName(inv.providers)) {
    const out: Record<string, string> = {};
    const { findings, input } = renderProvider(p, secrets, out);
    record('AIProvider', p, findings, input, out, 'providers');
  }
  opts.reuse?.routes.rotate();
  for (const r of [...inv.routes].sort(routeOrder)) {
    const { findings, input } = renderRouteReusing(r, refs, opts.reuse?.routes);
    record('AIRoute', r, findings, input, {}, 'routes');
  }
  for (const p of byNamespaceName(inv.policies)) {
    const { findings, input } = renderPolicy(p, refs);
    record('AIPolicy', p, findings, input, {}, 'policies');
  }
  // oldest first: an older tenant keeps its default flag and its header claims when a newer one
  // clashes; an API key two tenants list is served by neither (namespace.ts, sharedKeys)
  const claims = new HeaderTenants<string>();
  let defaultOwner: string | undefined;
  // creation times have one-second resolution: within a second, a tenant already serving (Accepted
  // in its status, which tenants cannot write) keeps its claims over a new one, whatever the names
  const tenants = byNamespaceName(inv.namespaces).sort(
    (a, b) => creation(a) - creation(b) || Number(isServing(b)) - Number(isServing(a)),
  );
  const platformNs = opts.platformNamespace;
  const platform = platformNs
    ? {
        namespace: platformNs,
        names: byNamespaceName(inv.policies.filter((p) => namespaceOf(p) === platformNs)).map(
          (p) => p.metadata.name,
        ),
      }
    : undefined;
  const shared = sharedKeys(tenants, secrets);
  for (const n of tenants) {
    const out: Record<string, string> = {};
    const rendered = renderNamespace(n, refs, secrets, out, shared, platform);
    const { findings } = rendered;
    let { input } = rendered;
    if (n.spec.default && platformNs && namespaceOf(n) !== platformNs) {
      // with a platform namespace, only the platform decides who serves callers without credentials
      // (a tenant admin's default would take them, or Conflict the platform's own if older)
      findings.invalid(
        `only an AINamespace in the platform namespace "${platformNs}" may be the default`,
        'spec.default',
      );
      input = { ...input, default: false };
    } else if (n.spec.default) {
      if (defaultOwner) {
        findings.conflict(`${defaultOwner} is already the default namespace`, 'spec.default');
        // its rejected entry (403 for its keys and tokens) must not be a second default: the
        // dataplane refuses two
        input = { ...input, default: false };
      } else defaultOwner = `AINamespace ${namespaceOf(n)}/${n.metadata.name}`;
    }
    const claimed = claimHeaders(claims, n, input, findings);
    const outcome = record('AINamespace', n, findings, input, out, 'namespaces');
    // a name the dataplane cannot take cannot carry a rejected entry either (its callers get 401)
    const nameless = outcome.dataplaneName.length > NAME_MAX;
    const deny = outcome.accepted.ok || nameless ? undefined : denyEntry(input, outcome, claimed, rejected);
    if (deny) {
      // only the files its remaining match rules read (none once it is rendered without them)
      const used = JSON.stringify(deny.match);
      for (const [k, v] of Object.entries(out)) if (used.includes(JSON.stringify(k))) secretData[k] = v;
      lists.namespaces.push(deny);
      owners.namespaces.push(outcome.key);
    }
  }
  // the tenant list is rendered by name (creation order only decided the conflicts above)
  const order = lists.namespaces.map((n, i) => ({ n, key: owners.namespaces[i] ?? '' }));
  order.sort((a, b) => (a.n.name < b.n.name ? -1 : 1));
  lists.namespaces = order.map((x) => x.n);
  owners.namespaces = order.map((x) => x.key);

  const outcomes = refs.all();
  let emptyReason: string | undefined;
  if (lists.providers.length === 0) emptyReason = 'no AIProvider is accepted';
  else if (lists.routes.length === 0) emptyReason = 'no AIRoute is accepted';
  if (emptyReason) return { secretData: {}, outcomes, owners, emptyReason };
  const base = opts.base ?? {};
  const input: SluiceConfigInput = {
    version: 1,
    // fail closed: callers without a tenant are served only when the platform's base config says
    // `access: open` and no AINamespace exists at all (not even a rejected one)
    access: base.access === 'open' && inv.namespaces.length === 0 ? 'open' : 'tenants',
    ...(base.egress ? { egress: base.egress } : {}),
    server: { ...base.server, secretsDir: opts.secretsDir },
    ...(base.store ? { store: base.store } : {}),
    ...(base.cache ? { cache: base.cache } : {}),
    ...lists,
  };
  return { input, secretData, outcomes, owners };
}

const OWNER_PATH = /^(providers|routes|namespaces|policies)\[(\d+)\]\.?(.*)$/;

/** The object whose config entry an issue's path names, or undefined (e.g. `server.x`, or ''). */
export function ownerOf(path: string, owners: RenderResult['owners']): string | undefined {
  const m = OWNER_PATH.exec(path);
  return m ? owners[m[1] as keyof RenderResult['owners']][Number(m[2])] : undefined;
}

/**
 * Mark the object behind each issue (by its config path) as rejected with the dataplane's message.
 * Issues no object is to blame for (the base config) throw a RenderError.
 */
export function blame(
  issues: ReadonlyArray<{ path: string; message: string }>,
  owners: RenderResult['owners'],
  rejected: Map<string, Problem>,
  text: StatusText,
): void {
  const global: string[] = [];
  for (const issue of issues) {
    const m = OWNER_PATH.exec(issue.path);
    const owner = m ? owners[m[1] as keyof RenderResult['owners']][Number(m[2])] : undefined;
    if (!owner) {
      global.push(`${issue.path || '(root)'}: ${issue.message}`);
      continue;
    }
    if (rejected.has(owner)) {
      escalateDeny(owner, rejected);
      continue;
    }
    const field = m?.[3] ?? '';
    rejected.set(owner, {
      path: field ? `rendered ${field}` : 'spec',
      // the owner's status is read by its tenant: no secret, no other tenant's object (status_text.ts)
      // (the path is the dataplane's own, structural; only the message is anyone's text)
      message: `the dataplane rejects ${field || 'it'}: ${text.for(owner, issue.message)}`,
    });
  }
  if (global.length) throw new RenderError(`rendered config is invalid: ${global.join('; ')}`);
}

export function render(
  inv: Inventory,
  opts: RenderOptions,
  seed?: ReadonlyMap<string, Problem>,
): RenderResult {
  const rejected = new Map<string, Problem>(seed ?? []);
  // each round excludes at least one more object, so this ends; the bound is a guard
  for (
    let round = 0;
    // a rejected tenant's entry may be refused twice more (rendered without match rules, then dropped)
    round <= inv.providers.length + inv.routes.length + 3 * inv.namespaces.length + inv.policies.length;
    round++
  ) {
    const pass = renderPass(inv, opts, rejected);
    if (!pass.input)
      return {
        configText: '',
        hash: '',
        secretData: {},
        outcomes: pass.outcomes,
        emptyReason: pass.emptyReason,
        owners: pass.owners,
      };
    let config: SluiceConfig;
    try {
      opts.reuse?.config.rotate();
      config = validateConfig(pass.input, 'rendered config', opts.reuse?.config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const before = rejected.size;
      blame(err.issues, pass.owners, rejected, new StatusText(pass.secretData, pass.owners));
      if (rejected.size === before) throw new RenderError(`rendered config is invalid: ${err.message}`);
      continue;
    }
    return {
      config,
      input: pass.input,
      configText: configJson(pass.input),
      hash: configHash(config),
      secretData: pass.secretData,
      outcomes: pass.outcomes,
      owners: pass.owners,
    };
  }
  throw new RenderError('rendering did not converge');
}

export { Findings };
