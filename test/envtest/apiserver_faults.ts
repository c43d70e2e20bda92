// Fault injection for the envtest control plane: restart or freeze only the kube-apiserver (etcd keeps
// the data), compact etcd so old resourceVersions are gone (watches from them get 410 Gone), and a
// loopback TCP proxy that cuts one client off the API server while the test keeps its own access.
// Every signal goes to the PID the harness started; nothing else is touched.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from './controlplane.ts';

/** Kills the kube-apiserver, runs `whileDown`, then starts it again on the same port with the same certs. */
export async function restartApiServer(
  cp: ControlPlane,
  opts: { graceMs?: number; whileDown?: () => Promise<void> } = {},
): Promise<void> {
  await cp.stopApiServer(opts.graceMs ?? 0);
  try {
    await opts.whileDown?.();
  } finally {
    await cp.startApiServer();
  }
}

/**
 * Freezes the kube-apiserver with SIGSTOP: the kernel still accepts connections but nothing answers,
 * like a partitioned or hung server. Returns the function that resumes it (SIGCONT); always call it.
 */
export function freezeApiServer(cp: ControlPlane): () => void {
  const pid = cp.apiServerPid;
  if (pid === undefined) throw new Error('envtest: kube-apiserver is not running');
  process.kill(pid, 'SIGSTOP');
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // it exited meanwhile
    }
  };
}

async function etcdPost<T>(cp: ControlPlane, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${cp.etcdUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** etcd's current revision (= the newest resourceVersion the API server can hand out). */
export async function etcdRevision(cp: ControlPlane): Promise<number> {
  // a range over a key nobody writes still carries the store's revision in its header
  const key = Buffer.from('/sluice-envtest/revision-probe').toString('base64');
  const r = await etcdPost<{ header: { revision: string } }>(cp, '/v3/kv/range', { key });
  return Number(r.header.revision);
}

/**
 * Writes a key outside /registry (the API server never reads it) to move etcd's revision on: an
 * informer whose last resourceVersion is older than the revision an API server starts its watch
 * cache at gets 410 Gone when it watches again.
 */
export async function bumpEtcdRevision(cp: ControlPlane): Promise<number> {
  const key = Buffer.from('/sluice-envtest/bump').toString('base64');
  const value = Buffer.from(String(Date.now())).toString('base64');
  const r = await etcdPost<{ header: { revision: string } }>(cp, '/v3/kv/put', { key, value });
  return Number(r.header.revision);
}

/** Compacts etcd up to its current revision: every older resourceVersion is gone (watches get 410). */
export async function compactEtcd(cp: ControlPlane): Promise<number> {
  const revision = await etcdRevision(cp);
  await etcdPost(cp, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}

export interface TcpProxy {
  /** https://127.0.0.1:PORT, for a kubeconfig (the serving certificate covers 127.0.0.1 on any port) */
  url: string;
  /** connections accepted so far (including refused ones while cut) */
  readonly accepted: number;
  /** Destroys every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy to 127.0.0.1:targetPort (TLS passes through untouched). */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let isCut = false;
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const destroyAll = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    url: `https://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut: () => {
      isCut = true;
      destroyAll();
    },
    restore: () => {
      isCut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        destroyAll();
        server.close(() => resolve());
      }),
  };
}

/** A copy of `kc` whose current cluster is reached at `server` (e.g. a TcpProxy's url). */
export function kubeConfigVia(kc: KubeConfig, server: string): KubeConfig {
  const current = kc.getCurrentCluster();
  if (!current) throw new Error('kubeconfig has no current cluster');
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.name === current.name ? { ...c, server } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.getCurrentContext(),
  });
  return out;
}
