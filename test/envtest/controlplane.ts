// A real Kubernetes control plane for tests, after controller-runtime's
// envtest: etcd + kube-apiserver (and, on request, kube-controller-manager)
// on loopback ports, with an admin bearer token in system:masters and RBAC on.
//
//   const cp = await startControlPlane();
//   await cp.kubectl(["get", "ns"]);
//   await cp.stop();
//
// Binaries come from KUBEBUILDER_ASSETS or .tools/bin (scripts/install-tools.sh).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findBinary } from './binaries.ts';
import { freePorts, type ManagedProcess, probe, run, startProcess, waitUntil } from './process.ts';

export interface ControlPlaneOptions {
  /** Folder searched before KUBEBUILDER_ASSETS and .tools/bin. */
  binDir?: string;
  /** Bound on etcd + kube-apiserver becoming ready (default 120 s). */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, appended (later flags win). */
  apiServerArgs?: string[];
  /** Extra etcd flags, appended. */
  etcdArgs?: string[];
  /** Bound on one kubectl call (default 60 s). */
  kubectlTimeoutMs?: number;
  /** Keep the temp folder (logs, data, kubeconfig) after stop(), for debugging. */
  keepDir?: boolean;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ControllerManagerOptions {
  /** --controllers value (default: garbagecollector, namespace). */
  controllers?: string[];
  /** Extra kube-controller-manager flags. */
  args?: string[];
  /** Bound on /healthz answering (default 60 s). */
  timeoutMs?: number;
}

export interface ControllerManager {
  pid: number;
  logPath: string;
  stop(): Promise<void>;
}

export interface ControlPlane {
  /** kubeconfig with the admin token and the apiserver's CA; current context "envtest". */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of user "envtest-admin" in group system:masters. */
  token: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  caPem: string;
  /** Temp folder holding data, certs and the *.log of each process. */
  dir: string;
  /** Runs kubectl against this control plane; never rejects on a non-zero exit. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** Starts kube-controller-manager (garbage collection, namespace deletion). */
  startControllerManager(opts?: ControllerManagerOptions): Promise<ControllerManager>;
  /** Stops every process this harness started (SIGTERM, then SIGKILL) and removes `dir`. */
  stop(): Promise<void>;
  /** etcd's client URL (http://127.0.0.1:PORT), e.g. for compaction through its JSON gateway. */
  etcdUrl: string;
  /** PID of the running kube-apiserver; undefined while stopped by stopApiServer(). */
  readonly apiServerPid: number | undefined;
  /** Stops only the kube-apiserver (SIGTERM, SIGKILL after `graceMs`, default 10 s); etcd keeps the data. */
  stopApiServer(graceMs?: number): Promise<void>;
  /** Starts the kube-apiserver again with the same flags, port and certificates; waits for /readyz. */
  startApiServer(): Promise<void>;
}

const ADMIN_USER = 'envtest-admin';

function writeKubeconfig(path: string, server: string, caPem: string, token: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'envtest',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{ name: 'envtest', context: { cluster: 'envtest', user: ADMIN_USER, namespace: 'default' } }],
    'current-context': 'envtest',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

// The apiserver's --cert-dir file holds the serving cert followed by the
// self-signed CA that issued it; clients should trust the CA.
function caFromServingBundle(bundle: string): string {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  const last = blocks.at(-1);
  if (!last) throw new Error("envtest: no certificate in the apiserver's cert-dir");
  return last.endsWith('\n') ? last : `${last}\n`;
}

async function stopAll(procs: ManagedProcess[]): Promise<void> {
  // Reverse start order: controller-manager, apiserver, then etcd.
  for (const p of [...procs].reverse()) await p.stop();
}

async function startOnce(
  opts: ControlPlaneOptions,
  dir: string,
  procs: ManagedProcess[],
): Promise<ControlPlane> {
  const etcdBin = findBinary('etcd', opts.binDir);
  const apiBin = findBinary('kube-apiserver', opts.binDir);
  const kubectlBin = findBinary('kubectl', opts.binDir);
  const timeoutMs = opts.startTimeoutMs ?? 120_000;
  const [etcdClient, etcdPeer, apiPort] = (await freePorts(3)) as [number, number, number];

  // etcd, loopback only, fsync off: a test store, not a durable one.
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const peerUrl = `http://127.0.0.1:${etcdPeer}`;
  const etcd = startProcess(
    'etcd',
    etcdBin,
    [
      '--name=envtest',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=envtest=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
      ...(opts.etcdArgs ?? []),
    ],
    join(dir, 'etcd.log'),
  );
  procs.push(etcd);
  await waitUntil(
    'etcd /health',
    async () => {
      try {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2_000) });
        return res.ok && (await res.text()).includes('"true"');
      } catch {
        return false;
      }
    },
    etcd,
    timeoutMs,
  );

  // Service-account token keys and the static admin token.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saPub = join(dir, 'sa.pub');
  const saKey = join(dir, 'sa.key');
  writeFileSync(saPub, publicKey);
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });

  const certDir = join(dir, 'apiserver-certs');
  mkdirSync(certDir);
  const server = `https://127.0.0.1:${apiPort}`;
  const apiArgs = [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    // No "kubernetes" Service endpoints: the reconciler refuses loopback addresses.
    '--endpoint-reconciler-type=none',
    `--secure-port=${apiPort}`,
    `--cert-dir=${certDir}`,
    `--token-auth-file=${tokenFile}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    ...(opts.apiServerArgs ?? []),
  ];
  // Restarts (startApiServer) reuse the flags, the port and the serving certificate in certDir.
  let apiserver: ManagedProcess | undefined;
  const launchApiServer = async (): Promise<void> => {
    const proc = startProcess('kube-apiserver', apiBin, apiArgs, join(dir, 'kube-apiserver.log'));
    apiserver = proc;
    procs.push(proc);
    await waitUntil(
      'kube-apiserver /readyz',
      async () => (await probe(apiPort, '/readyz', token)).status === 200,
      proc,
      timeoutMs,
      500,
    );
  };
  await launchApiServer();

  const caPem = caFromServingBundle(readFileSync(join(certDir, 'apiserver.crt'), 'utf8'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, server, caPem, token);
  const kubectlTimeout = opts.kubectlTimeoutMs ?? 60_000;
  const kubectlCache = join(dir, 'kubectl-cache');

  let stopping: Promise<void> | undefined;
  const cp: ControlPlane = {
    kubeconfigPath,
    server,
    token,
    caPem,
    dir,
    kubectl: (args, input) =>
      run(
        kubectlBin,
        [`--kubeconfig=${kubeconfigPath}`, `--cache-dir=${kubectlCache}`, ...args],
        input,
        kubectlTimeout,
      ),
    startControllerManager: async (cmOpts = {}) => {
      if (stopping) throw new Error('envtest: control plane is stopped');
      const bin = findBinary('kube-controller-manager', opts.binDir);
      const [port] = (await freePorts(1)) as [number];
      const kcmCerts = join(dir, `kcm-certs-${port}`);
      mkdirSync(kcmCerts);
      const controllers = cmOpts.controllers ?? ['garbagecollector', 'namespace'];
      const kcm = startProcess(
        'kube-controller-manager',
        bin,
        [
          `--kubeconfig=${kubeconfigPath}`,
          `--authentication-kubeconfig=${kubeconfigPath}`,
          `--authorization-kubeconfig=${kubeconfigPath}`,
          `--controllers=${controllers.join(',')}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${port}`,
          `--cert-dir=${kcmCerts}`,
          `--service-account-private-key-file=${saKey}`,
          '--use-service-account-credentials=false',
          ...(cmOpts.args ?? []),
        ],
        join(dir, `kube-controller-manager-${port}.log`),
      );
      procs.push(kcm);
      try {
        await waitUntil(
          'kube-controller-manager /healthz',
          async () => (await probe(port, '/healthz')).status === 200,
          kcm,
          cmOpts.timeoutMs ?? 60_000,
          500,
        );
      } catch (err) {
        await kcm.stop();
        throw err;
      }
      return { pid: kcm.pid, logPath: kcm.logPath, stop: () => kcm.stop() };
    },
    etcdUrl,
    get apiServerPid() {
      return apiserver && !apiserver.hasExited() ? apiserver.pid : undefined;
    },
    stopApiServer: async (graceMs) => {
      await apiserver?.stop(graceMs);
    },
    startApiServer: async () => {
      if (stopping) throw new Error('envtest: control plane is stopped');
      if (apiserver && !apiserver.hasExited()) throw new Error('envtest: kube-apiserver is running');
      await launchApiServer();
    },
    stop: () => {
      stopping ??= (async () => {
        await stopAll(procs);
        if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  return cp;
}

/**
 * Starts etcd and kube-apiserver on free loopback ports and waits for /readyz.
 * Retries (up to 3 attempts) only when a picked port was taken meanwhile.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // Fail fast, before making anything, when a binary is missing.
  for (const b of ['etcd', 'kube-apiserver', 'kubectl'] as const) findBinary(b, opts.binDir);
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-envtest-'));
    const procs: ManagedProcess[] = [];
    try {
      return await startOnce(opts, dir, procs);
    } catch (err) {
      await stopAll(procs);
      if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
      const portRace = err instanceof Error && /address already in use/i.test(err.message);
      if (!portRace || attempt >= 3) throw err;
    }
  }
}
