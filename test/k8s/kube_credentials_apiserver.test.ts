// The dataplane's own Kubernetes credentials (kube/kube_credentials.ts) against a real
// kube-apiserver: the envtest kubeconfig (bearer token + CA data), client certificates (the API
// server trusts a test client CA), tls-server-name, CA verification and insecure-skip-tls-verify,
// an in-cluster service account with a TokenRequest token and the chart's RBAC, token rotation
// through a 401, and a spawned `sluice serve --report-lease` keeping its Lease without loading
// @kubernetes/client-node.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { leaseReporterFromEnv } from '../../dataplane/src/k8s/lease_reporter.ts';
import { inClusterConnection, KubeCredentials, loadKubeCredentials } from '../../kube/kube_credentials.ts';
import { isNotFound, KubeError, KubeRest } from '../../kube/kube_rest.ts';
import { readKubeconfig } from '../../kube/kubeconfig_file.ts';
import { CONFIG_HASH_ANNOTATION } from '../../kube/replica_lease.ts';
import { type ControlPlane, startControlPlane } from '../envtest/controlplane.ts';
import { configDir, REPO_ROOT, spawnDataplane } from '../helpers/dataplane.ts';

const NS = 'lease-creds';
const log = pino({ level: 'silent' });
let cp: ControlPlane;
let dir: string;
let emptyHome: string;
const opened: KubeCredentials[] = [];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-kcreds-'));
  emptyHome = join(dir, 'home');
  mkdirSync(emptyHome);
  // a client CA for the API server, and a certificate for user "cert-user" in group system:masters
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'client-ca.key',
    '-out',
    'client-ca.crt',
    '-subj',
    '/CN=sluice-test-client-ca',
    '-days',
    '1',
  ]);
  openssl([
    'req',
    ...ec,
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/O=system:masters/CN=cert-user',
  ]);
  openssl([
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'client-ca.crt',
    '-CAkey',
    'client-ca.key',
    '-CAcreateserial',
    '-out',
    'client.crt',
    '-days',
    '1',
  ]);
  cp = await startControlPlane({ apiServerArgs: [`--client-ca-file=${join(dir, 'client-ca.crt')}`] });
  const ok = async (args: string[], input?: string) => {
    const r = await cp.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ok(['create', 'namespace', NS]);
  // the dataplane's RBAC as the chart renders it (charts/sluice/templates/dataplane/rbac.yaml)
  await ok(['create', 'serviceaccount', 'dataplane', '-n', NS]);
  await ok([
    'create',
    'role',
    'dataplane',
    '-n',
    NS,
    '--verb=get,create,update,delete',
    '--resource=leases.coordination.k8s.io',
  ]);
  await ok([
    'create',
    'rolebinding',
    'dataplane',
    '-n',
    NS,
    '--role=dataplane',
    `--serviceaccount=${NS}:dataplane`,
  ]);
}, 180_000);

afterAll(async () => {
  for (const c of opened) c.close();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A kubeconfig next to the test's certificates (relative paths resolve there). */
function kubeconfig(name: string, cluster: Record<string, unknown>, user?: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'test',
      clusters: [{ name: 'test', cluster: { server: cp.server, ...cluster } }],
      contexts: [{ name: 'test', context: { cluster: 'test', ...(user ? { user: 'test' } : {}) } }],
      users: user ? [{ name: 'test', user }] : [],
    }),
  );
  return file;
}
const caData = () => Buffer.from(cp.caPem).toString('base64');

function restFor(creds: KubeCredentials): KubeRest {
  opened.push(creds);
  return new KubeRest(creds);
}

/** Who the API server says we are (SelfSubjectReview). */
async function whoAmI(rest: KubeRest): Promise<string> {
  const review = await rest.request<{ status: { userInfo: { username: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
  );
  return review.status.userInfo.username;
}

const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`;
interface Lease {
  metadata: { annotations?: Record<string, string> };
  spec: { holderIdentity?: string; renewTime?: string };
}
async function getLease(rest: KubeRest, name: string): Promise<Lease | undefined> {
  try {
    return await rest.request<Lease>('GET', leasePath(name));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Poll (bounded) until `fn` gives a value. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('kubeconfig credentials against kube-apiserver', () => {
  it('the envtest kubeconfig (token + CA data): a lease reporter creates, renews and deletes its Lease', async () => {
    const admin = restFor(loadKubeCredentials({ env: { KUBECONFIG: cp.kubeconfigPath } }));
    expect(await whoAmI(admin)).toBe('envtest-admin');
    const reporter = leaseReporterFromEnv(log, {
      KUBECONFIG: cp.kubeconfigPath,
      POD_NAME: 'dp-kubeconfig',
      POD_NAMESPACE: NS,
    });
    reporter.report('1111111111111111');
    await reporter.flush();
    const first = await getLease(admin, reporter.leaseName);
    expect(first?.metadata.annotations?.[CONFIG_HASH_ANNOTATION]).toBe('1111111111111111');
    expect(first?.spec.holderIdentity).toBe('dp-kubeconfig');
    reporter.report('2222222222222222');
    await reporter.flush();
    const second = await getLease(admin, reporter.leaseName);
    expect(second?.metadata.annotations?.[CONFIG_HASH_ANNOTATION]).toBe('2222222222222222');
    expect(Date.parse(second?.spec.renewTime ?? '')).toBeGreaterThanOrEqual(
      Date.parse(first?.spec.renewTime ?? ''),
    );
    await reporter.stop();
    expect(await getLease(admin, reporter.leaseName)).toBeUndefined();
  });

  it('client certificate and key, from files and from -data, authenticate as the certificate subject', async () => {
    const files = kubeconfig(
      'cert-files.yaml',
      { 'certificate-authority-data': caData() },
      {
        'client-certificate': 'client.crt',
        'client-key': 'client.key',
      },
    );
    expect(await whoAmI(restFor(new KubeCredentials(readKubeconfig(files))))).toBe('cert-user');
    const data = kubeconfig(
      'cert-data.yaml',
      { 'certificate-authority-data': caData() },
      {
        'client-certificate-data': readFileSync(join(dir, 'client.crt')).toString('base64'),
        'client-key-data': readFileSync(join(dir, 'client.key')).toString('base64'),
      },
    );
    expect(await whoAmI(restFor(new KubeCredentials(readKubeconfig(data))))).toBe('cert-user');
  });

  it('the serving certificate is verified against the CA, by the tls-server-name when one is set', async () => {
    writeFileSync(join(dir, 'serving-ca.crt'), cp.caPem);
    const token = { token: cp.token };
    const caFile = { 'certificate-authority': 'serving-ca.crt' };
    const byCaFile = kubeconfig('ca-file.yaml', caFile, token);
    expect(await whoAmI(restFor(new KubeCredentials(readKubeconfig(byCaFile))))).toBe('envtest-admin');
    // one of the names kube-apiserver puts in its self-signed serving certificate
    const goodName = kubeconfig(
      'sni-good.yaml',
      { ...caFile, 'tls-server-name': 'kubernetes.default.svc' },
      token,
    );
    expect(await whoAmI(restFor(new KubeCredentials(readKubeconfig(goodName))))).toBe('envtest-admin');
    const badName = kubeconfig(
      'sni-bad.yaml',
      { ...caFile, 'tls-server-name': 'not-the-apiserver.example' },
      token,
    );
    await expect(whoAmI(restFor(new KubeCredentials(readKubeconfig(badName))))).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    // no CA: the self-signed chain is refused; insecure-skip-tls-verify accepts it
    const noCa = kubeconfig('no-ca.yaml', {}, token);
    await expect(whoAmI(restFor(new KubeCredentials(readKubeconfig(noCa))))).rejects.toMatchObject({
      code: expect.stringMatching(
        /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT/,
      ),
    });
    const insecure = kubeconfig('insecure.yaml', { 'insecure-skip-tls-verify': true }, token);
    expect(await whoAmI(restFor(new KubeCredentials(readKubeconfig(insecure))))).toBe('envtest-admin');
  });
});

describe('in-cluster credentials against kube-apiserver', () => {
  const apiPort = () => new URL(cp.server).port;
  const inClusterEnv = () => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: apiPort() });
  async function serviceAccountDir(name: string, token: string): Promise<string> {
    const sa = join(dir, name);
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), token);
    writeFileSync(join(sa, 'ca.crt'), cp.caPem);
    writeFileSync(join(sa, 'namespace'), NS);
    return sa;
  }
  const saToken = async () =>
    (await cp.kubectl(['create', 'token', 'dataplane', '-n', NS, '--duration=10m'])).stdout.trim();

  it('a TokenRequest token with the chart RBAC: the reporter keeps its Lease and may do nothing more', async () => {
    const sa = await serviceAccountDir('sa-reporter', await saToken());
    const env = { ...inClusterEnv(), POD_NAME: 'dp-in-cluster', POD_NAMESPACE: NS };
    const creds = loadKubeCredentials({ env, homeDir: emptyHome, serviceAccountDir: sa });
    expect(creds.source).toBe(`in-cluster service account (${sa})`);
    expect(creds.namespace).toBe(NS);
    const rest = restFor(creds);
    expect(await whoAmI(rest)).toBe(`system:serviceaccount:${NS}:dataplane`);
    await expect(
      rest.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`),
    ).rejects.toMatchObject({
      code: 403,
    });
    const reporter = leaseReporterFromEnv(log, env, { homeDir: emptyHome, serviceAccountDir: sa });
    reporter.report('3333333333333333');
    await reporter.flush();
    expect((await getLease(rest, reporter.leaseName))?.metadata.annotations?.[CONFIG_HASH_ANNOTATION]).toBe(
      '3333333333333333',
    );
    await reporter.stop();
    expect(await getLease(rest, reporter.leaseName)).toBeUndefined();
  });

  it('a rotated token file: the 401 makes it re-read the file and retry once', async () => {
    const sa = await serviceAccountDir('sa-rotate', 'a-token-the-apiserver-does-not-know');
    const creds = new KubeCredentials(inClusterConnection({ env: inClusterEnv(), serviceAccountDir: sa }));
    const rest = restFor(creds);
    const fresh = await saToken();
    writeFileSync(join(sa, 'token'), fresh);
    expect(await whoAmI(rest)).toBe(`system:serviceaccount:${NS}:dataplane`);
    expect(creds.token).toBe(fresh);
    // a token that no longer works and is not replaced stays a 401: one retry, not a loop
    writeFileSync(join(sa, 'token'), 'revoked');
    await creds.refreshAfterUnauthorized();
    const err = await whoAmI(rest).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).code).toBe(401);
  });
});

describe('sluice serve --report-lease (spawned) against kube-apiserver', () => {
  it('keeps a Lease with the loaded config hash, follows a reload, deletes it on SIGTERM, never loads client-node', async () => {
    const quickstart = readFileSync(join(REPO_ROOT, 'config/quickstart.yaml'), 'utf8');
    const cfg = configDir(quickstart);
    const trace = join(dir, 'serve-modules.txt');
    const admin = restFor(loadKubeCredentials({ env: { KUBECONFIG: cp.kubeconfigPath } }));
    const dp = await spawnDataplane(
      cfg.file,
      {
        KUBECONFIG: cp.kubeconfigPath,
        HOME: emptyHome,
        POD_NAME: 'dp-serve',
        POD_NAMESPACE: NS,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${join(REPO_ROOT, 'test/k8s/module_trace.ts')}`,
        SLUICE_MODULE_TRACE: trace,
      },
      20_000,
      0,
      ['--report-lease'],
    );
    try {
      const hashIn = (message: string) =>
        dp.logs
          .filter((l) => l.includes(message))
          .map((l) => (JSON.parse(l) as { hash: string }).hash)
          .at(-1);
      const loaded = hashIn('sluice dataplane listening');
      expect(loaded).toMatch(/^[0-9a-f]{16}$/);
      const hashOfLease = async () =>
        (await getLease(admin, 'sluice-dataplane-dp-serve'))?.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
      await eventually('the Lease with the loaded hash', async () =>
        (await hashOfLease()) === loaded ? true : undefined,
      );
      cfg.write(quickstart.replace('outputTokens: 24', 'outputTokens: 25'));
      const reloaded = await eventually('a reload', async () => hashIn('config reloaded'));
      expect(reloaded).not.toBe(loaded);
      await eventually('the Lease with the new hash', async () =>
        (await hashOfLease()) === reloaded ? true : undefined,
      );
    } finally {
      expect(await dp.stop()).toBe(0);
      cfg.cleanup();
    }
    expect(await getLease(admin, 'sluice-dataplane-dp-serve')).toBeUndefined();
    const modules = readFileSync(trace, 'utf8').split('\n');
    expect(modules.some((u) => u.endsWith('/kube/kube_credentials.ts'))).toBe(true);
    expect(modules.filter((u) => u.includes('/node_modules/@kubernetes/'))).toEqual([]);
  });
});
