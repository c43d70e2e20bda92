// Reads the parts of a kubeconfig file that a long-running client needs: the current context's
// cluster (server, CA, TLS options) and user (bearer token or token file, client certificate).
// Field semantics follow client-go (k8s.io/client-go/tools/clientcmd/api/v1): `*-data` overrides
// the file form, relative paths are relative to the kubeconfig's folder, a root CA together with
// insecure-skip-tls-verify is refused. What it cannot do (exec and auth-provider plugins,
// impersonation, basic auth, proxies) is refused with a message naming the field, rather than
// connecting without the credentials the user configured.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describeParseError } from '../dataplane/src/security/parse_errors.ts';

/** Everything needed to reach and authenticate to one API server. */
export interface ConnectionSpec {
  /** base URL, e.g. https://10.0.0.1:443 */
  server: string;
  /** where this came from, for messages: "kubeconfig /path (context x)" or "in-cluster service account" */
  source: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTLSVerify: boolean;
  /** SNI and the name the serving certificate is checked against, when not the server's host */
  tlsServerName?: string;
  /** static bearer token */
  token?: string;
  /** bearer token file, re-read periodically and on 401 (rotated tokens); its content wins over `token` */
  tokenFile?: string;
  /** the context's (or the service account's) namespace */
  namespace?: string;
}

export class KubeCredentialsError extends Error {
  override name = 'KubeCredentialsError';
}

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Client-go refuses these outright or needs machinery we do not carry; name them, never ignore them. */
const UNSUPPORTED_USER_FIELDS: Record<string, string> = {
  exec: 'exec credential plugins',
  'auth-provider': 'auth-provider plugins',
  username: 'basic authentication (username/password)',
  password: 'basic authentication (username/password)',
  as: 'impersonation',
  'as-uid': 'impersonation',
  'as-groups': 'impersonation',
  'as-user-extra': 'impersonation',
};
const SUPPORTED = 'use a token, tokenFile or client certificate and key instead (or run in-cluster)';

class Reader {
  readonly #file: string;
  readonly #dir: string;
  constructor(file: string) {
    this.#file = file;
    this.#dir = dirname(file);
  }

  fail(path: string, message: string): never {
    throw new KubeCredentialsError(`kubeconfig ${this.#file}: ${path}: ${message}`);
  }

  string(obj: Mapping, key: string, where: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') this.fail(`${where}.${key}`, `must be a string, got ${typeof v}`);
    return v;
  }

  /** `<key>-data` (base64 PEM) wins over `<key>` (a file path), as in client-go. */
  pem(obj: Mapping, key: string, where: string, kind: string): Buffer | undefined {
    const data = this.string(obj, `${key}-data`, where);
    if (data !== undefined) {
      const compact = data.replace(/\s+/g, '');
      const buf = Buffer.from(compact, 'base64');
      if (!/^[A-Za-z0-9+/]+=*$/.test(compact) || !buf.toString('latin1').includes('-----BEGIN '))
        this.fail(`${where}.${key}-data`, `is not base64 of a PEM ${kind}`);
      return buf;
    }
    const file = this.string(obj, key, where);
    if (file === undefined) return undefined;
    const buf = this.readFile(file, `${where}.${key}`);
    if (!buf.toString('latin1').includes('-----BEGIN '))
      this.fail(`${where}.${key}`, `${this.absolute(file)} is not a PEM ${kind}`);
    return buf;
  }

  absolute(file: string): string {
    return isAbsolute(file) ? file : resolve(this.#dir, file);
  }

  readFile(file: string, where: string): Buffer {
    const abs = this.absolute(file);
    try {
      return readFileSync(abs);
    } catch (err) {
      return this.fail(where, `cannot read ${abs}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The entry of `list` (clusters, users, contexts) called `name`, and its inner mapping. */
  named(root: Mapping, list: string, inner: string, name: string, why: string): [Mapping, string] {
    const entries = root[list] ?? [];
    if (!Array.isArray(entries)) this.fail(list, 'must be a list');
    const entry = entries.find((e: unknown) => isMapping(e) && e.name === name);
    if (!entry) this.fail(list, `no entry named "${name}" (${why})`);
    const where = `${list}[name=${name}].${inner}`;
    const value = (entry as Mapping)[inner];
    if (!isMapping(value)) this.fail(where, 'is missing or not a mapping');
    return [value, where];
  }
}

/** Parse kubeconfig text; `file` names it in errors and anchors relative paths. */
export function parseKubeconfig(text: string, file: string, note = ''): ConnectionSpec {
  // explicitly typed, so TypeScript narrows after r.fail(), which never returns
  const r: Reader = new Reader(file);
  let root: unknown;
  try {
    root = parseYaml(text);
  } catch (err) {
    throw new KubeCredentialsError(
      // the yaml package quotes the bad line, and a kubeconfig holds tokens and keys
      `kubeconfig ${file} is not valid YAML: ${describeParseError(err)}`,
    );
  }
  if (!isMapping(root)) throw new KubeCredentialsError(`kubeconfig ${file} is empty or not a YAML mapping`);
  const contextName = r.string(root, 'current-context', '');
  if (!contextName) r.fail('current-context', `is not set${note} (pick one with kubectl config use-context)`);
  const [context, contextWhere] = r.named(root, 'contexts', 'context', contextName, `current-context${note}`);
  const clusterName = r.string(context, 'cluster', contextWhere);
  if (!clusterName) r.fail(`${contextWhere}.cluster`, 'is not set');
  const [cluster, clusterWhere] = r.named(
    root,
    'clusters',
    'cluster',
    clusterName,
    `context "${contextName}"`,
  );

  const server = r.string(cluster, 'server', clusterWhere);
  if (!server) r.fail(`${clusterWhere}.server`, 'is not set');
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
    r.fail(`${clusterWhere}.server`, `"${server}" is not an http(s) URL`);
  if (r.string(cluster, 'proxy-url', clusterWhere) !== undefined)
    r.fail(`${clusterWhere}.proxy-url`, 'proxies are not supported by sluice; reach the API server directly');
  const insecure = cluster['insecure-skip-tls-verify'] ?? false;
  if (typeof insecure !== 'boolean')
    r.fail(`${clusterWhere}.insecure-skip-tls-verify`, 'must be true or false');
  const ca = r.pem(cluster, 'certificate-authority', clusterWhere, 'certificate');
  if (insecure && ca)
    r.fail(
      clusterWhere,
      'a root certificate authority together with insecure-skip-tls-verify is not allowed',
    );

  const spec: ConnectionSpec = {
    server,
    source: `kubeconfig ${file} (context ${contextName})`,
    insecureSkipTLSVerify: insecure,
    ...(ca ? { ca } : {}),
  };
  const tlsServerName = r.string(cluster, 'tls-server-name', clusterWhere);
  if (tlsServerName) spec.tlsServerName = tlsServerName;
  const namespace = r.string(context, 'namespace', contextWhere);
  if (namespace) spec.namespace = namespace;

  // a context without a user connects anonymously, as kubectl does
  const userName = r.string(context, 'user', contextWhere);
  if (!userName) return spec;
  const [user, userWhere] = r.named(root, 'users', 'user', userName, `context "${contextName}"`);
  for (const [field, what] of Object.entries(UNSUPPORTED_USER_FIELDS)) {
    const value = user[field];
    if (value === undefined || value === null) continue;
    // name the plugin, so the message says what the user would have to replace
    const plugin = isMapping(value) ? (field === 'exec' ? value.command : value.name) : undefined;
    const detail = typeof plugin === 'string' ? ` ("${plugin}")` : '';
    r.fail(`${userWhere}.${field}`, `sluice does not support ${what}${detail}; ${SUPPORTED}`);
  }
  const token = r.string(user, 'token', userWhere);
  if (token) spec.token = token;
  const tokenFile = r.string(user, 'tokenFile', userWhere);
  if (tokenFile) spec.tokenFile = r.absolute(tokenFile);
  const cert = r.pem(user, 'client-certificate', userWhere, 'certificate');
  const key = r.pem(user, 'client-key', userWhere, 'private key');
  if (cert && !key) r.fail(userWhere, 'client-certificate without client-key');
  if (key && !cert) r.fail(userWhere, 'client-key without client-certificate');
  if (cert && key) Object.assign(spec, { cert, key });
  return spec;
}

/** Read and parse a kubeconfig file. */
export function readKubeconfig(file: string, note = ''): ConnectionSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeCredentialsError(
      `cannot read kubeconfig ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return parseKubeconfig(text, file, note);
}
