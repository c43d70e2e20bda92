// The dataplane's own Kubernetes credentials: in-cluster service account or a kubeconfig file, in
// the precedence @kubernetes/client-node's KubeConfig.loadFromDefault uses. It exists so that
// `sluice serve --report-lease` never loads @kubernetes/client-node, which costs ~75 MiB of resident
// memory per dataplane pod for what is a URL, a token and a TLS agent here.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeAuth } from './kube_rest.ts';
import { type ConnectionSpec, KubeCredentialsError, readKubeconfig } from './kubeconfig_file.ts';

export { type ConnectionSpec, KubeCredentialsError } from './kubeconfig_file.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads token files every minute; projected tokens are rotated well before expiry. */
export const TOKEN_REFRESH_MS = 60_000;

export interface KubeCredentialsOptions {
  /** how long a token read from a file is used before it is read again (default 60 s) */
  tokenRefreshMs?: number;
  /** clock, for tests of the refresh */
  now?: () => number;
}

/** A KubeAuth for KubeRest: one keep-alive agent with the TLS material, and the bearer token. */
export class KubeCredentials implements KubeAuth {
  readonly server: string;
  readonly source: string;
  readonly namespace: string | undefined;
  /** keep-alive, so the renewals every few seconds reuse one TLS connection */
  readonly agent: http.Agent;
  readonly #tokenFile: string | undefined;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #token: string | undefined;
  #tokenReadAt = 0;

  constructor(spec: ConnectionSpec, opts: KubeCredentialsOptions = {}) {
    this.server = spec.server.replace(/\/+$/, '');
    this.source = spec.source;
    this.namespace = spec.namespace;
    this.#refreshMs = opts.tokenRefreshMs ?? TOKEN_REFRESH_MS;
    this.#now = opts.now ?? Date.now;
    this.#token = spec.token;
    this.#tokenFile = spec.tokenFile;
    if (this.#tokenFile) {
      // read now, so a missing or empty file fails at start instead of at the first renewal; with a
      // static token as well, that token is used until the file can be read (client-go's rule)
      let token = '';
      try {
        token = readTokenFile(this.#tokenFile, this.source);
      } catch (err) {
        if (!this.#token) throw err;
      }
      if (token) this.#token = token;
      else if (!this.#token)
        throw new KubeCredentialsError(`${this.source}: token file ${this.#tokenFile} is empty`);
      this.#tokenReadAt = this.#now();
    }
    const agentOptions = { keepAlive: true, keepAliveMsecs: 30_000 };
    this.agent = this.server.startsWith('http:')
      ? new http.Agent(agentOptions)
      : new https.Agent({
          ...agentOptions,
          ...(spec.ca ? { ca: spec.ca } : {}),
          ...(spec.cert && spec.key ? { cert: spec.cert, key: spec.key } : {}),
          ...(spec.tlsServerName ? { servername: spec.tlsServerName } : {}),
          rejectUnauthorized: !spec.insecureSkipTLSVerify,
        });
  }

  /** the bearer token sent now (tests, diagnostics) */
  get token(): string | undefined {
    return this.#token;
  }

  getCurrentCluster(): { server: string } {
    return { server: this.server };
  }

  async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    opts.agent = this.agent;
    if (this.#tokenFile && this.#now() - this.#tokenReadAt >= this.#refreshMs) await this.#rereadToken();
    if (this.#token) {
      const headers = (opts.headers ?? {}) as http.OutgoingHttpHeaders;
      opts.headers = { ...headers, authorization: `Bearer ${this.#token}` };
    }
  }

  async refreshAfterUnauthorized(): Promise<boolean> {
    if (!this.#tokenFile) return false;
    const before = this.#token;
    await this.#rereadToken();
    return this.#token !== before;
  }

  /** Close the idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  async #rereadToken(): Promise<void> {
    this.#tokenReadAt = this.#now();
    try {
      const token = (await readFile(this.#tokenFile as string, 'utf8')).trim();
      if (token) this.#token = token;
    } catch {
      // keep the last token that was read: a rotation writes the file atomically, so a failed read
      // is transient, and a token that really expired shows up as the API server's 401
    }
  }
}

function readTokenFile(file: string, source: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new KubeCredentialsError(
      `${source}: cannot read token file ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export interface InClusterOptions extends KubeCredentialsOptions {
  env?: NodeJS.ProcessEnv;
  /** the service-account folder (token, ca.crt, namespace); tests point it at a temp folder */
  serviceAccountDir?: string;
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, the token (re-read as it rotates) and ca.crt. */
export function inClusterConnection(opts: InClusterOptions = {}): ConnectionSpec {
  const env = opts.env ?? process.env;
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new KubeCredentialsError(
      'in-cluster credentials need KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by the kubelet in every pod)',
    );
  if (!/^\d+$/.test(port))
    throw new KubeCredentialsError(`in-cluster credentials: KUBERNETES_SERVICE_PORT "${port}" is not a port`);
  const tokenFile = join(dir, 'token');
  const caFile = join(dir, 'ca.crt');
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new KubeCredentialsError(
      `in-cluster credentials: cannot read ${caFile}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(dir, 'namespace'), 'utf8').trim() || undefined;
  } catch {
    namespace = undefined; // optional: the lease reporter takes POD_NAMESPACE from the downward API
  }
  return {
    server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
    source: `in-cluster service account (${dir})`,
    ca,
    insecureSkipTLSVerify: false,
    tokenFile,
    ...(namespace ? { namespace } : {}),
  };
}

export interface LoadOptions extends InClusterOptions {
  /** home folder for ~/.kube/config (default $HOME, else the OS's) */
  homeDir?: string;
}

/**
 * Credentials in client-node loadFromDefault's order: $KUBECONFIG (its first path only), then
 * ~/.kube/config when it exists, then the in-cluster service account when its token exists.
 * Unlike loadFromDefault it never falls back to an unauthenticated http://localhost:8080.
 */
export function loadKubeConnection(opts: LoadOptions = {}): ConnectionSpec {
  const env = opts.env ?? process.env;
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  const first = paths[0];
  if (first !== undefined) {
    const note = paths.length > 1 ? ` in the first KUBECONFIG path (sluice reads only that one)` : '';
    return readKubeconfig(first, note);
  }
  const home = opts.homeDir ?? (env.HOME || homedir());
  const userConfig = join(home, '.kube', 'config');
  if (existsSync(userConfig)) return readKubeconfig(userConfig);
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (existsSync(join(dir, 'token'))) return inClusterConnection(opts);
  throw new KubeCredentialsError(
    `no Kubernetes credentials: KUBECONFIG is not set, ${userConfig} does not exist and there is no service-account token in ${dir}`,
  );
}

/** loadKubeConnection, ready for KubeRest. */
export function loadKubeCredentials(opts: LoadOptions = {}): KubeCredentials {
  return new KubeCredentials(loadKubeConnection(opts), opts);
}
