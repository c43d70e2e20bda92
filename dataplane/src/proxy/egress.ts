// Where providers may connect: the platform's egress policy (config `egress`), checked twice. At
// load, against each provider's host as written (so `sluice validate` and the operator refuse it with
// the field's path); and at connect time, against every address the host resolves to, because DNS may
// point an allowed-looking name at a denied address (the metadata service, the gateway itself).
//
// Rules: an entry is a host (`api.example.com`), a wildcard (`*.svc.cluster.local`: any name below
// it, not the apex), an IP or a CIDR. A destination is refused when it matches a deny entry (or the
// built-in link-local ranges) and no allow entry. A host allowed by name may resolve into a denied
// CIDR (an in-cluster model server on 10.x), but never into the built-in ranges unless an allow CIDR
// covers the address itself.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { buildConnector } from 'undici';

/** Cloud metadata services and other link-local endpoints: denied unless an allow CIDR says otherwise. */
export const BUILTIN_DENY = ['169.254.0.0/16', 'fe80::/10'] as const;

export interface EgressRules {
  allow?: readonly string[];
  deny?: readonly string[];
}

const HOST = /^(\*\.)?[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*\.?$/i;

/** Why an egress entry is malformed, or undefined when it is fine. */
export function egressEntryProblem(entry: string): string | undefined {
  if (entry.includes('/')) {
    const [addr = '', bits = ''] = entry.split('/');
    const family = isIP(addr);
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (family === 0) return `"${entry}" is not a CIDR (address/prefix)`;
    if (prefix < 0 || prefix > (family === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
    return undefined;
  }
  if (isIP(entry) || HOST.test(entry)) return undefined;
  return `"${entry}" is not a host name, *.wildcard, IP address or CIDR`;
}

function normalHost(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

class Entries {
  readonly ips = new BlockList();
  readonly hosts = new Set<string>();
  readonly suffixes: string[] = [];
  readonly #labels: Array<{ test: (v: string) => boolean; entry: string }> = [];

  constructor(list: readonly string[]) {
    for (const entry of list) {
      const e = entry.trim();
      if (egressEntryProblem(e)) continue; // reported by the config checks
      if (e.includes('/')) {
        const [addr = '', bits = '0'] = e.split('/');
        const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
        this.ips.addSubnet(addr, Number(bits), type);
        const one = new BlockList();
        one.addSubnet(addr, Number(bits), type);
        this.#labels.push({
          test: (v) => isIP(v) !== 0 && one.check(v, isIP(v) === 6 ? 'ipv6' : 'ipv4'),
          entry: e,
        });
      } else if (isIP(e)) {
        const type = isIP(e) === 6 ? 'ipv6' : 'ipv4';
        this.ips.addAddress(e, type);
        this.#labels.push({ test: (v) => v === e, entry: e });
      } else if (e.startsWith('*.')) {
        const suffix = normalHost(e.slice(1));
        this.suffixes.push(suffix);
        this.#labels.push({ test: (v) => v.endsWith(suffix), entry: e });
      } else {
        const h = normalHost(e);
        this.hosts.add(h);
        this.#labels.push({ test: (v) => v === h, entry: e });
      }
    }
  }

  hasIp(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.ips.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }

  hasHost(host: string): boolean {
    return this.hosts.has(host) || this.suffixes.some((s) => host.endsWith(s));
  }

  /** the entry that matched, for the error message */
  which(value: string): string {
    return this.#labels.find((l) => l.test(value))?.entry ?? value;
  }
}

export class EgressPolicy {
  readonly #allow: Entries;
  readonly #deny: Entries;
  readonly #builtin = new Entries(BUILTIN_DENY);

  constructor(rules: EgressRules = {}) {
    this.#allow = new Entries(rules.allow ?? []);
    this.#deny = new Entries(rules.deny ?? []);
  }

  /** Why a host (name or IP literal) as written in a URL is refused, or undefined. */
  hostProblem(rawHost: string): string | undefined {
    const host = normalHost(rawHost);
    return isIP(host) ? this.addressProblem(host, host) : this.#nameProblem(host);
  }

  #nameProblem(host: string): string | undefined {
    if (this.#allow.hasHost(host) || !this.#deny.hasHost(host)) return undefined;
    return `egress policy denies host ${host} (egress.deny "${this.#deny.which(host)}")`;
  }

  /** Why connecting to `address` (which `host` resolved to) is refused, or undefined. */
  addressProblem(rawHost: string, address: string): string | undefined {
    const host = normalHost(rawHost);
    const target = host === address ? address : `${host} (${address})`;
    if (this.#allow.hasIp(address)) return undefined;
    if (this.#builtin.hasIp(address))
      return `egress policy denies ${target}: link-local "${this.#builtin.which(address)}"`;
    const named = !isIP(host);
    if (named && this.#allow.hasHost(host)) return undefined;
    if (this.#deny.hasIp(address))
      return `egress policy denies ${target}: egress.deny "${this.#deny.which(address)}"`;
    return named ? this.#nameProblem(host) : undefined;
  }
}

let current = new EgressPolicy();

/** The policy new connections are checked against; replaced when a config is applied. */
export function setEgressPolicy(rules: EgressRules | undefined): void {
  current = new EgressPolicy(rules);
}

export function egressPolicy(): EgressPolicy {
  return current;
}

export class EgressDeniedError extends Error {
  override name = 'EgressDeniedError';
  readonly code = 'SLUICE_EGRESS_DENIED';
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup with every resolved address checked against the current policy. */
function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const policy = current;
    for (const a of addresses) {
      const problem = policy.addressProblem(hostname, a.address);
      if (problem) return callback(new EgressDeniedError(problem), []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/**
 * undici's connector with the egress policy applied: IP literals are checked before connecting
 * (net.connect does no lookup for them), names through a lookup that checks what they resolve to.
 */
export function guardedConnector(timeoutMs: number, viaName?: string): buildConnector.connector {
  const connect = buildConnector({
    timeout: timeoutMs,
    lookup: guardedLookup,
  } as buildConnector.BuildOptions);
  return (opts, callback) => {
    if (isIP(normalHost(opts.hostname))) {
      // a pod address found through a Service is judged under the Service's name (viaName), as if
      // that name had resolved to it: `allow: ["*.models.svc.cluster.local"]` admits its pods
      const problem = current.addressProblem(viaName ?? opts.hostname, normalHost(opts.hostname));
      if (problem) {
        callback(new EgressDeniedError(problem), null);
        return;
      }
    }
    connect(opts, callback);
  };
}
