// A thin Kubernetes REST client shared by the operator and the dataplane lease reporter. The
// generated clients cannot do everything the operator needs in one shape (server-side apply with a
// field manager, the status subresource with optimistic concurrency, fieldValidation), so requests
// and watches (the operator's informers) go through here.
// Credentials come through the small KubeAuth interface, not a client-node import: the operator and
// the dataplane both use our own loader (kube_credentials.ts), so neither loads
// @kubernetes/client-node (~88 MiB of resident memory; tests still pass its KubeConfig, which fits).
import http from 'node:http';
import https from 'node:https';

/**
 * Where the API server is and how to authenticate to it. @kubernetes/client-node's KubeConfig
 * satisfies it as is (the operator); KubeCredentials (kube_credentials.ts) is the dataplane's.
 */
export interface KubeAuth {
  /** null when there is no current cluster */
  getCurrentCluster(): { server: string } | null;
  /** Adds the Authorization header, TLS material (ca/cert/key/servername) and/or an agent. */
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
  /**
   * Called after a 401: re-read rotating credentials (projected service-account tokens) and
   * resolve true when they changed, so the request is retried once with the new ones.
   */
  refreshAfterUnauthorized?(): Promise<boolean>;
}

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export class KubeError extends Error {
  override name = 'KubeError';
  readonly code: number;
  readonly reason: string;
  readonly status: KubeStatus;
  constructor(code: number, status: KubeStatus, what: string) {
    super(`${what}: ${code} ${status.reason ?? ''} ${status.message ?? ''}`.trim());
    this.code = code;
    this.reason = status.reason ?? '';
    this.status = status;
  }
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** Accept header (default application/json), e.g. PARTIAL_METADATA for an object's metadata only */
  accept?: string;
}

/** Ask for an object's metadata only (no data): what comparing an annotation needs. */
export const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export const APPLY_PATCH = 'application/apply-patch+yaml';
export const MERGE_PATCH = 'application/merge-patch+json';

export class KubeRest {
  readonly auth: KubeAuth;
  readonly server: string;

  constructor(auth: KubeAuth) {
    this.auth = auth;
    const cluster = auth.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    let res = await this.#send(method, path, url, body, opts);
    // a 401 means the request was not processed, so even a POST can be sent again
    if (res.status === 401 && (await this.auth.refreshAfterUnauthorized?.()))
      res = await this.#send(method, path, url, body, opts);
    const { status, text } = res;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = { message: text };
    }
    if (status >= 400) throw new KubeError(status, (parsed ?? {}) as KubeStatus, `${method} ${path}`);
    return parsed as T;
  }

  /**
   * A watch: GET `path` with `query` (add watch=1 yourself), each line of the response handed to
   * `onEvent` parsed. `done` resolves when the server ends the stream (or abort() is called) and
   * rejects with a KubeError when the server refuses the watch, or on a network error.
   */
  watch(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (event: unknown) => void,
    /** no byte for this long (bookmarks come about once a minute): the connection is dead */
    idleTimeoutMs = 120_000,
  ): { done: Promise<void>; abort(): void } {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    let req: http.ClientRequest | undefined;
    let aborted = false;
    const done = (async () => {
      const reqOpts: https.RequestOptions = { method: 'GET', headers: {} };
      await this.auth.applyToHTTPSOptions(reqOpts);
      const headers = { ...(reqOpts.headers as Record<string, string>), accept: 'application/json' };
      const mod = url.protocol === 'https:' ? https : http;
      await new Promise<void>((resolve, reject) => {
        if (aborted) return resolve();
        req = mod.request(url, { ...reqOpts, headers }, (res) => {
          const status = res.statusCode ?? 0;
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            if (status >= 400) return;
            for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
              const line = buf.slice(0, i).trim();
              buf = buf.slice(i + 1);
              if (!line) continue;
              try {
                onEvent(JSON.parse(line));
              } catch (err) {
                req?.destroy(err instanceof Error ? err : new Error(String(err)));
                return;
              }
            }
          });
          res.on('end', () => {
            if (status < 400) return resolve();
            let parsed: KubeStatus = { message: buf };
            try {
              parsed = JSON.parse(buf) as KubeStatus;
            } catch {}
            reject(new KubeError(status, parsed, `watch ${path}`));
          });
          res.on('error', (err) => (aborted ? resolve() : reject(err)));
        });
        req.on('error', (err) => (aborted ? resolve() : reject(err)));
        req.setTimeout(idleTimeoutMs, () =>
          req?.destroy(new Error(`watch ${path}: no data for ${idleTimeoutMs} ms`)),
        );
        req.end();
      });
    })();
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }

  async #send(
    method: string,
    path: string,
    url: URL,
    body: string | undefined,
    opts: RequestOptions,
  ): Promise<{ status: number; text: string }> {
    const reqOpts: https.RequestOptions = { method, headers: {} };
    await this.auth.applyToHTTPSOptions(reqOpts);
    const headers: Record<string, string> = {
      ...(reqOpts.headers as Record<string, string>),
      accept: opts.accept ?? 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = mod.request(url, { ...reqOpts, headers, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** REST path of a namespaced resource collection or object. */
export function resourcePath(
  apiVersion: string,
  plural: string,
  namespace?: string,
  name?: string,
  sub?: string,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let p = namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
  if (name) p += `/${name}`;
  if (sub) p += `/${sub}`;
  return p;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeError && err.code === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeError && err.code === 409;
}
