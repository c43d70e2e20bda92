// The dataplane's credentials loader: precedence (KUBECONFIG, ~/.kube/config, in-cluster), the
// in-cluster service account from an injectable folder, token files re-read as they rotate, and the
// keep-alive agent carrying the TLS material. Real TLS and auth against kube-apiserver are in
// test/k8s/kube_credentials_apiserver.test.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  inClusterConnection,
  KubeCredentials,
  KubeCredentialsError,
  loadKubeConnection,
  loadKubeCredentials,
} from './kube_credentials.ts';
import { readKubeconfig } from './kubeconfig_file.ts';

const FIXTURES = resolve(import.meta.dirname, 'testdata/kubeconfig');
const fixture = (name: string) => join(FIXTURES, name);

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sluice-kubecreds-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A service-account folder like the kubelet mounts. */
function serviceAccount(files: { token?: string; ca?: string; namespace?: string }): string {
  const dir = join(tmp, 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  if (files.token !== undefined) writeFileSync(join(dir, 'token'), files.token);
  if (files.ca !== undefined) writeFileSync(join(dir, 'ca.crt'), files.ca);
  if (files.namespace !== undefined) writeFileSync(join(dir, 'namespace'), files.namespace);
  return dir;
}
const CA = readFileSync(fixture('ca.pem'), 'utf8');
const IN_CLUSTER_ENV = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

async function applied(creds: KubeCredentials): Promise<https.RequestOptions> {
  const opts: https.RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await creds.applyToHTTPSOptions(opts);
  return opts;
}

describe('precedence (as client-node loadFromDefault)', () => {
  const home = () => join(tmp, 'home');
  const writeHomeConfig = () => {
    mkdirSync(join(home(), '.kube'), { recursive: true });
    writeFileSync(join(home(), '.kube', 'config'), readFileSync(fixture('insecure.yaml')));
  };

  it('KUBECONFIG first, and only its first path', () => {
    writeHomeConfig();
    const sa = serviceAccount({ token: 't', ca: CA });
    const spec = loadKubeConnection({
      env: { KUBECONFIG: [fixture('data.yaml'), fixture('files.yaml')].join(delimiter), ...IN_CLUSTER_ENV },
      homeDir: home(),
      serviceAccountDir: sa,
    });
    expect(spec.source).toBe(`kubeconfig ${fixture('data.yaml')} (context data)`);
  });

  it('a KUBECONFIG that points nowhere is an error, not a fall-through to the next source', () => {
    writeHomeConfig();
    const missing = join(tmp, 'nope');
    expect(() => loadKubeConnection({ env: { KUBECONFIG: missing }, homeDir: home() })).toThrow(
      `cannot read kubeconfig ${missing}: ENOENT`,
    );
  });

  it('then ~/.kube/config when it exists ($HOME when no home folder is given)', () => {
    writeHomeConfig();
    const sa = serviceAccount({ token: 't', ca: CA });
    const expected = `kubeconfig ${join(home(), '.kube', 'config')} (context dev)`;
    expect(
      loadKubeConnection({ env: { KUBECONFIG: '' }, homeDir: home(), serviceAccountDir: sa }).source,
    ).toBe(expected);
    expect(loadKubeConnection({ env: { HOME: home() }, serviceAccountDir: sa }).source).toBe(expected);
  });

  it('then the in-cluster service account when its token exists', () => {
    const sa = serviceAccount({ token: 'sa-token', ca: CA, namespace: 'sluice-system' });
    const creds = loadKubeCredentials({ env: IN_CLUSTER_ENV, homeDir: home(), serviceAccountDir: sa });
    expect(creds.source).toBe(`in-cluster service account (${sa})`);
    expect(creds.server).toBe('https://10.96.0.1:443');
    expect(creds.namespace).toBe('sluice-system');
    expect(creds.token).toBe('sa-token');
    creds.close();
  });

  it('and an error naming all three when there is none (no unauthenticated localhost:8080)', () => {
    const sa = join(tmp, 'no-sa');
    expect(() => loadKubeConnection({ env: {}, homeDir: home(), serviceAccountDir: sa })).toThrow(
      new KubeCredentialsError(
        `no Kubernetes credentials: KUBECONFIG is not set, ${join(home(), '.kube', 'config')} does not exist and there is no service-account token in ${sa}`,
      ),
    );
  });
});

describe('in-cluster', () => {
  it('reads token, ca.crt and namespace from the folder; the server from KUBERNETES_SERVICE_*', () => {
    const sa = serviceAccount({ token: 'sa-token\n', ca: CA, namespace: 'team-b\n' });
    const spec = inClusterConnection({ env: IN_CLUSTER_ENV, serviceAccountDir: sa });
    expect(spec).toEqual({
      server: 'https://10.96.0.1:443',
      source: `in-cluster service account (${sa})`,
      ca: Buffer.from(CA),
      insecureSkipTLSVerify: false,
      tokenFile: join(sa, 'token'),
      namespace: 'team-b',
    });
  });

  it('brackets an IPv6 service host; the namespace file is optional', () => {
    const sa = serviceAccount({ token: 't', ca: CA });
    const spec = inClusterConnection({
      env: { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' },
      serviceAccountDir: sa,
    });
    expect(spec.server).toBe('https://[fd00:10:96::1]:6443');
    expect(spec.namespace).toBeUndefined();
  });

  it('clear errors for a missing environment, a bad port, a missing CA and a missing token', () => {
    const sa = serviceAccount({ ca: CA });
    expect(() => inClusterConnection({ env: {}, serviceAccountDir: sa })).toThrow(
      'in-cluster credentials need KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by the kubelet in every pod)',
    );
    expect(() =>
      inClusterConnection({
        env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: 'https' },
        serviceAccountDir: sa,
      }),
    ).toThrow('in-cluster credentials: KUBERNETES_SERVICE_PORT "https" is not a port');
    const noCa = join(tmp, 'no-ca');
    mkdirSync(noCa);
    expect(() => inClusterConnection({ env: IN_CLUSTER_ENV, serviceAccountDir: noCa })).toThrow(
      `in-cluster credentials: cannot read ${join(noCa, 'ca.crt')}: ENOENT`,
    );
    // the token is read when the credentials are built, so a pod without one fails at start
    const spec = inClusterConnection({ env: IN_CLUSTER_ENV, serviceAccountDir: sa });
    expect(() => new KubeCredentials(spec)).toThrow(
      `in-cluster service account (${sa}): cannot read token file ${join(sa, 'token')}: ENOENT`,
    );
  });
});

describe('token files', () => {
  it('a missing or empty tokenFile fails at load, naming the kubeconfig', () => {
    const missing = fixture('bad/token-file-missing.yaml');
    expect(() => new KubeCredentials(readKubeconfig(missing))).toThrow(
      `kubeconfig ${missing} (context dev): cannot read token file ${fixture('bad/no-such-token')}: ENOENT`,
    );
    const empty = fixture('bad/token-file-empty.yaml');
    expect(() => new KubeCredentials(readKubeconfig(empty))).toThrow(
      `kubeconfig ${empty} (context dev): token file ${fixture('empty-token')} is empty`,
    );
  });

  it("the file's token wins over the static one; the static one is used while the file is unreadable", async () => {
    const both = new KubeCredentials(readKubeconfig(fixture('token-and-file.yaml')));
    expect((await applied(both)).headers).toEqual({
      accept: 'application/json',
      authorization: 'Bearer token-from-file',
    });
    const fallback = new KubeCredentials(readKubeconfig(fixture('token-and-missing-file.yaml')));
    expect(fallback.token).toBe('static-token');
    both.close();
    fallback.close();
  });

  it('re-reads the file once the refresh interval has passed, and keeps the last token if it vanishes', async () => {
    const sa = serviceAccount({ token: 'first', ca: CA });
    let now = 1_000_000;
    const creds = new KubeCredentials(inClusterConnection({ env: IN_CLUSTER_ENV, serviceAccountDir: sa }), {
      now: () => now,
      tokenRefreshMs: 60_000,
    });
    writeFileSync(join(sa, 'token'), 'second\n');
    now += 59_999;
    expect((await applied(creds)).headers).toMatchObject({ authorization: 'Bearer first' });
    now += 1;
    expect((await applied(creds)).headers).toMatchObject({ authorization: 'Bearer second' });
    unlinkSync(join(sa, 'token'));
    now += 60_000;
    expect((await applied(creds)).headers).toMatchObject({ authorization: 'Bearer second' });
    creds.close();
  });

  it('after a 401, re-reads at once and says whether the token changed', async () => {
    const sa = serviceAccount({ token: 'first', ca: CA });
    const creds = new KubeCredentials(inClusterConnection({ env: IN_CLUSTER_ENV, serviceAccountDir: sa }));
    expect(await creds.refreshAfterUnauthorized()).toBe(false);
    writeFileSync(join(sa, 'token'), 'rotated');
    expect(await creds.refreshAfterUnauthorized()).toBe(true);
    expect(creds.token).toBe('rotated');
    // a static token cannot change: no retry
    const fixed = new KubeCredentials(readKubeconfig(fixture('insecure.yaml')));
    expect(await fixed.refreshAfterUnauthorized()).toBe(false);
    creds.close();
    fixed.close();
  });
});

describe('request options', () => {
  it('one keep-alive https agent with the CA, client certificate, server name and verification', async () => {
    const creds = new KubeCredentials(readKubeconfig(fixture('files.yaml')));
    expect(creds.getCurrentCluster()).toEqual({ server: 'https://kube.example:6443' });
    const a = await applied(creds);
    const b = await applied(creds);
    expect(a.agent).toBe(creds.agent);
    expect(b.agent).toBe(a.agent);
    const agent = creds.agent as https.Agent;
    expect(agent.options).toMatchObject({
      keepAlive: true,
      ca: readFileSync(fixture('ca.pem')),
      cert: readFileSync(fixture('client.pem')),
      key: readFileSync(fixture('client-key.pem')),
      servername: 'kubernetes.default.svc',
      rejectUnauthorized: true,
    });
    expect(a.headers).toEqual({ accept: 'application/json', authorization: 'Bearer token-from-file' });
    creds.close();
  });

  it('insecure-skip-tls-verify turns verification off', () => {
    const creds = new KubeCredentials(readKubeconfig(fixture('insecure.yaml')));
    expect((creds.agent as https.Agent).options).toMatchObject({ rejectUnauthorized: false });
    expect((creds.agent as https.Agent).options.ca).toBeUndefined();
    creds.close();
  });

  it('plain http gets a plain keep-alive agent and no Authorization header when anonymous', async () => {
    const creds = new KubeCredentials(readKubeconfig(fixture('anonymous.yaml')));
    const opts = await applied(creds);
    expect(opts.headers).toEqual({ accept: 'application/json' });
    expect(opts.agent).toBeInstanceOf(http.Agent);
    expect(opts.agent).not.toBeInstanceOf(https.Agent);
    expect((creds.agent as http.Agent & { keepAlive?: boolean }).keepAlive).toBe(true);
    creds.close();
  });
});
