// Kubernetes endpoint discovery: each replica lists and watches the EndpointSlices of a Service
// (label kubernetes.io/service-name) and keeps its provider's endpoint set equal to the ready,
// serving endpoints on the wanted port. Watch events arrive within milliseconds of the EndpointSlice
// controller's write. When the API server is slow or gone the last known endpoints keep serving
// (passive ejection still removes dead pods from the rotation), and the watch is re-established with
// backoff; a 410 Gone relists. Why the dataplane watches instead of the operator rendering
// endpoints into the config: docs/self-hosted.md.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { loadKubeCredentials } from '../../../kube/kube_credentials.ts';
import { KubeRest } from '../../../kube/kube_rest.ts';
import type {
  DiscoveryFactory,
  EndpointDiscovery,
  KubernetesEndpoints,
} from '../compiled/provider_runtime.ts';
import { ConfigError } from '../config/load.ts';
import type { EndpointSet } from '../proxy/endpoints.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** a watch line larger than this is not an EndpointSlice (they hold at most 1000 endpoints) */
const MAX_EVENT_BYTES = 8 << 20;

interface SlicePort {
  name?: string;
  port?: number;
}

export interface EndpointSlice {
  metadata: { name: string; resourceVersion?: string };
  addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  ports?: SlicePort[] | null;
  endpoints?: Array<{
    addresses: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  }> | null;
}

interface SliceList {
  metadata: { resourceVersion: string };
  items: EndpointSlice[];
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: EndpointSlice & { code?: number; message?: string };
}

class GoneError extends Error {}

function slicePort(
  ports: SlicePort[] | null | undefined,
  want: KubernetesEndpoints['port'],
): number | undefined {
  const list = ports ?? [];
  if (want === undefined) return list.length === 1 ? list[0]?.port : undefined;
  const match = list.find((p) => (typeof want === 'number' ? p.port === want : p.name === want));
  return match?.port;
}

/**
 * The origins of the ready, serving endpoints of some slices (EndpointSlice API: a nil ready or
 * serving means true, a nil terminating means false).
 */
export function originsOf(slices: Iterable<EndpointSlice>, spec: KubernetesEndpoints): Set<string> {
  const out = new Set<string>();
  for (const s of slices) {
    const port = slicePort(s.ports, spec.port);
    if (port === undefined) continue;
    for (const ep of s.endpoints ?? []) {
      const c = ep.conditions ?? {};
      if (c.ready === false || c.serving === false || c.terminating === true) continue;
      const addr = ep.addresses[0];
      if (!addr) continue;
      const host = s.addressType === 'IPv6' ? `[${addr}]` : addr;
      out.add(`${spec.scheme}://${host}:${port}`);
    }
  }
  return out;
}

export class EndpointSliceWatch implements EndpointDiscovery {
  readonly #rest: KubeRest;
  readonly #spec: KubernetesEndpoints;
  readonly #set: EndpointSet;
  readonly #log: Logger;
  readonly #slices = new Map<string, EndpointSlice>();
  #stopped = false;
  #request: http.ClientRequest | undefined;
  #sleep: NodeJS.Timeout | undefined;

  constructor(rest: KubeRest, spec: KubernetesEndpoints, set: EndpointSet, provider: string, log: Logger) {
    this.#rest = rest;
    this.#spec = spec;
    this.#set = set;
    this.#log = log.child({ provider, service: `${spec.namespace}/${spec.service}` });
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#request?.destroy();
    if (this.#sleep) clearTimeout(this.#sleep);
  }

  get #path(): string {
    return `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(this.#spec.namespace)}/endpointslices`;
  }

  get #selector(): string {
    return `${SERVICE_NAME_LABEL}=${this.#spec.service}`;
  }

  async #run(): Promise<void> {
    let backoff = 250;
    while (!this.#stopped) {
      try {
        const list = await this.#rest.request<SliceList>('GET', this.#path, {
          query: { labelSelector: this.#selector },
          timeoutMs: 30_000,
        });
        this.#slices.clear();
        for (const s of list.items) this.#slices.set(s.metadata.name, s);
        this.#publish('list');
        let rv = list.metadata.resourceVersion;
        backoff = 250;
        while (!this.#stopped) rv = await this.#watch(rv);
      } catch (err) {
        if (this.#stopped) return;
        if (!(err instanceof GoneError))
          this.#log.warn(
            { err, retryMs: backoff },
            'endpoint discovery: watch failed; keeping the last endpoints',
          );
        // jittered, so 50 replicas do not all relist the moment the API server is back
        await new Promise<void>((r) => {
          this.#sleep = setTimeout(r, backoff * (0.5 + Math.random() / 2));
        });
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  #publish(reason: string): void {
    const { added, removed } = this.#set.setOrigins(originsOf(this.#slices.values(), this.#spec));
    if (added || removed)
      this.#log.info({ reason, added, removed, endpoints: this.#set.list.length }, 'endpoints changed');
  }

  /** One watch request; resolves with the last resourceVersion when the server ends it. */
  async #watch(rv: string): Promise<string> {
    const url = new URL(this.#rest.server + this.#path);
    url.searchParams.set('watch', '1');
    url.searchParams.set('resourceVersion', rv);
    url.searchParams.set('allowWatchBookmarks', 'true');
    url.searchParams.set('labelSelector', this.#selector);
    // the server ends the watch after this; a fresh one resumes from the last resourceVersion
    url.searchParams.set('timeoutSeconds', String(240 + Math.floor(Math.random() * 60)));
    const opts: https.RequestOptions = { method: 'GET', headers: {} };
    await this.#rest.auth.applyToHTTPSOptions(opts);
    opts.headers = { ...(opts.headers as Record<string, string>), accept: 'application/json' };
    let last = rv;
    return new Promise<string>((resolve, reject) => {
      const mod = url.protocol === 'https:' ? https : http;
      // bookmarks come about every minute: a silent connection for longer is dead
      const req = mod.request(url, { ...opts, timeout: 90_000 }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`watch endpointslices: HTTP ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (buf.length > MAX_EVENT_BYTES) {
            req.destroy(new Error('watch event too large'));
            return;
          }
          let nl = buf.indexOf('\n');
          let changed = false;
          while (nl >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            nl = buf.indexOf('\n');
            if (!line.trim()) continue;
            let ev: WatchEvent;
            try {
              ev = JSON.parse(line) as WatchEvent;
            } catch (err) {
              req.destroy(err as Error);
              return;
            }
            if (ev.type === 'ERROR') {
              req.destroy(
                ev.object.code === 410
                  ? new GoneError('resourceVersion too old')
                  : new Error(ev.object.message),
              );
              return;
            }
            last = ev.object.metadata.resourceVersion ?? last;
            if (ev.type === 'DELETED') this.#slices.delete(ev.object.metadata.name);
            else if (ev.type !== 'BOOKMARK') this.#slices.set(ev.object.metadata.name, ev.object);
            if (ev.type !== 'BOOKMARK') changed = true;
          }
          if (changed) this.#publish('watch');
        });
        res.on('end', () => resolve(last));
        res.on('error', reject);
      });
      this.#request = req;
      req.on('timeout', () => req.destroy(new Error('watch endpointslices: silent for 90 s')));
      req.on('error', reject);
      req.end();
    });
  }
}

/**
 * Discovery for the dataplane: Kubernetes credentials (in-cluster service account or KUBECONFIG) are
 * loaded at the first provider that needs them; a process without any fails that config load.
 */
export function endpointSliceDiscovery(log: Logger, env: NodeJS.ProcessEnv = process.env): DiscoveryFactory {
  let rest: KubeRest | undefined;
  return (spec, set, provider) => {
    if (!rest) {
      try {
        rest = new KubeRest(loadKubeCredentials({ env }));
      } catch (err) {
        throw new ConfigError('config', [
          {
            path: `providers.${provider}.endpoints.kubernetes`,
            message: `cannot load Kubernetes credentials for endpoint discovery: ${(err as Error).message}`,
          },
        ]);
      }
    }
    return new EndpointSliceWatch(rest, spec, set, provider, log);
  };
}
