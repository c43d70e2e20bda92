// The kubeconfig reader on fixtures (testdata/kubeconfig): every supported field of the current
// context's cluster and user, and one fixture per defect with its exact message.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KubeCredentialsError, parseKubeconfig, readKubeconfig } from './kubeconfig_file.ts';

const DIR = resolve(import.meta.dirname, 'testdata/kubeconfig');
const BAD = join(DIR, 'bad');
const pem = (name: string) => readFileSync(join(DIR, name));

describe('kubeconfig: supported fields', () => {
  it('reads the current context, not the first one, with file paths relative to the kubeconfig', () => {
    const spec = readKubeconfig(join(DIR, 'files.yaml'));
    expect(spec).toEqual({
      server: 'https://kube.example:6443/',
      source: `kubeconfig ${join(DIR, 'files.yaml')} (context files)`,
      ca: pem('ca.pem'),
      insecureSkipTLSVerify: false,
      tlsServerName: 'kubernetes.default.svc',
      namespace: 'team-a',
      tokenFile: join(DIR, 'token'),
      cert: pem('client.pem'),
      key: pem('client-key.pem'),
    });
  });

  it('the -data forms override the file forms, whose files are then never read', () => {
    const spec = readKubeconfig(join(DIR, 'data.yaml'));
    expect(spec.server).toBe('https://10.0.0.1');
    expect(spec.ca?.toString()).toBe(
      '-----BEGIN CERTIFICATE-----\nY2EgZnJvbSBkYXRh\n-----END CERTIFICATE-----\n',
    );
    expect(spec.cert).toEqual(pem('client.pem'));
    expect(spec.key).toEqual(pem('client-key.pem'));
    expect(spec.token).toBe('static-token');
    expect(spec.tokenFile).toBeUndefined();
    expect(spec.namespace).toBeUndefined();
  });

  it('insecure-skip-tls-verify without a CA', () => {
    const spec = readKubeconfig(join(DIR, 'insecure.yaml'));
    expect(spec).toMatchObject({ insecureSkipTLSVerify: true, token: 'dev-token' });
    expect(spec.ca).toBeUndefined();
  });

  it('a context without a user is anonymous, and plain http is allowed (kubectl proxy)', () => {
    const spec = readKubeconfig(join(DIR, 'anonymous.yaml'));
    expect(spec).toEqual({
      server: 'http://127.0.0.1:8001',
      source: `kubeconfig ${join(DIR, 'anonymous.yaml')} (context proxy)`,
      insecureSkipTLSVerify: false,
    });
  });

  it('keeps both token and tokenFile (the loader decides which one is sent)', () => {
    expect(readKubeconfig(join(DIR, 'token-and-file.yaml'))).toMatchObject({
      token: 'static-token',
      tokenFile: join(DIR, 'token'),
    });
  });

  it('names the source file of text it parses, and anchors relative paths there', () => {
    const text = readFileSync(join(DIR, 'files.yaml'), 'utf8');
    const spec = parseKubeconfig(text, join(DIR, 'copy.yaml'));
    expect(spec.source).toBe(`kubeconfig ${join(DIR, 'copy.yaml')} (context files)`);
    expect(spec.tokenFile).toBe(join(DIR, 'token'));
  });
});

const UNSUPPORTED = 'use a token, tokenFile or client certificate and key instead (or run in-cluster)';

// fixture in testdata/kubeconfig/bad -> message after "kubeconfig <file>: "
const BAD_CASES: [string, string][] = [
  ['no-current-context.yaml', 'current-context: is not set (pick one with kubectl config use-context)'],
  ['unknown-context.yaml', 'contexts: no entry named "prod" (current-context)'],
  ['unknown-cluster.yaml', 'clusters: no entry named "gone" (context "dev")'],
  ['unknown-user.yaml', 'users: no entry named "gone" (context "dev")'],
  ['context-without-cluster.yaml', 'contexts[name=dev].context.cluster: is not set'],
  ['context-not-mapping.yaml', 'contexts[name=dev].context: is missing or not a mapping'],
  ['contexts-not-list.yaml', 'contexts: must be a list'],
  ['no-server.yaml', 'clusters[name=dev].cluster.server: is not set'],
  ['server-not-url.yaml', 'clusters[name=dev].cluster.server: "kube.example:6443" is not an http(s) URL'],
  [
    'proxy-url.yaml',
    'clusters[name=dev].cluster.proxy-url: proxies are not supported by sluice; reach the API server directly',
  ],
  ['insecure-not-boolean.yaml', 'clusters[name=dev].cluster.insecure-skip-tls-verify: must be true or false'],
  [
    'ca-and-insecure.yaml',
    'clusters[name=dev].cluster: a root certificate authority together with insecure-skip-tls-verify is not allowed',
  ],
  [
    'ca-data-not-base64.yaml',
    'clusters[name=dev].cluster.certificate-authority-data: is not base64 of a PEM certificate',
  ],
  [
    'ca-data-not-pem.yaml',
    'clusters[name=dev].cluster.certificate-authority-data: is not base64 of a PEM certificate',
  ],
  [
    'ca-file-missing.yaml',
    `clusters[name=dev].cluster.certificate-authority: cannot read ${BAD}/no-such-ca.pem: ENOENT: no such file or directory, open '${BAD}/no-such-ca.pem'`,
  ],
  [
    'ca-file-not-pem.yaml',
    `clusters[name=dev].cluster.certificate-authority: ${DIR}/not-pem.txt is not a PEM certificate`,
  ],
  ['token-not-string.yaml', 'users[name=dev].user.token: must be a string, got number'],
  ['cert-without-key.yaml', 'users[name=dev].user: client-certificate without client-key'],
  ['key-without-cert.yaml', 'users[name=dev].user: client-key without client-certificate'],
  [
    'exec.yaml',
    `users[name=dev].user.exec: sluice does not support exec credential plugins ("aws"); ${UNSUPPORTED}`,
  ],
  [
    'auth-provider.yaml',
    `users[name=dev].user.auth-provider: sluice does not support auth-provider plugins ("gcp"); ${UNSUPPORTED}`,
  ],
  [
    'basic-auth.yaml',
    `users[name=dev].user.username: sluice does not support basic authentication (username/password); ${UNSUPPORTED}`,
  ],
  ['impersonation.yaml', `users[name=dev].user.as: sluice does not support impersonation; ${UNSUPPORTED}`],
];

describe('kubeconfig: defects get a message naming the file and the field', () => {
  for (const [fixture, message] of BAD_CASES) {
    it(fixture, () => {
      const file = join(BAD, fixture);
      let caught: unknown;
      try {
        readKubeconfig(file);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(KubeCredentialsError);
      expect((caught as Error).message).toBe(`kubeconfig ${file}: ${message}`);
    });
  }

  it('an empty file', () => {
    const file = join(BAD, 'empty.yaml');
    expect(() => readKubeconfig(file)).toThrow(
      new KubeCredentialsError(`kubeconfig ${file} is empty or not a YAML mapping`),
    );
  });

  it('text that is not YAML', () => {
    const file = join(BAD, 'not-yaml.yaml');
    expect(() => readKubeconfig(file)).toThrow(new RegExp(`^kubeconfig ${file} is not valid YAML: .+`));
  });

  it('a file that does not exist', () => {
    const file = join(BAD, 'no-such-kubeconfig');
    expect(() => readKubeconfig(file)).toThrow(
      `cannot read kubeconfig ${file}: ENOENT: no such file or directory, open '${file}'`,
    );
  });

  it('the note says which KUBECONFIG path was read when a context is missing', () => {
    const file = join(BAD, 'unknown-context.yaml');
    expect(() => readKubeconfig(file, ' in the first KUBECONFIG path (sluice reads only that one)')).toThrow(
      `kubeconfig ${file}: contexts: no entry named "prod" (current-context in the first KUBECONFIG path (sluice reads only that one))`,
    );
  });
});
