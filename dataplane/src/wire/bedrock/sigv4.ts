// AWS Signature Version 4 for Bedrock runtime requests, through @smithy/signature-v4 (the AWS SDK's
// own signer). Service `bedrock`; region from the provider config; credentials accessKeyId,
// secretAccessKey and optional sessionToken from the provider's secrets. Signers are cached per
// provider config because the signer derives and memoises signing keys per day. The signer's modules
// (~2 MiB of heap with the event-stream codec) are loaded on the first signed request: most replicas
// have no Bedrock provider.
import type { SignatureV4 } from '@smithy/signature-v4';
import { GatewayError } from '../../errors.ts';
import type { ResolvedProvider } from '../../providers/types.ts';

const signers = new WeakMap<ResolvedProvider, SignatureV4>();

let signerModules:
  | Promise<[typeof import('@smithy/signature-v4'), typeof import('@aws-crypto/sha256-js')]>
  | undefined;

async function signerFor(p: ResolvedProvider): Promise<SignatureV4> {
  let s = signers.get(p);
  if (!s) {
    signerModules ??= Promise.all([import('@smithy/signature-v4'), import('@aws-crypto/sha256-js')]);
    const [{ SignatureV4 }, { Sha256 }] = await signerModules;
    const { accessKeyId, secretAccessKey, sessionToken } = p.credentials;
    if (!accessKeyId || !secretAccessKey || !p.config.region) {
      throw new GatewayError(
        'SLUICE_ERR_INTERNAL',
        `provider '${p.name}' lacks accessKeyId, secretAccessKey or region for SigV4`,
      );
    }
    s = new SignatureV4({
      service: 'bedrock',
      region: p.config.region,
      credentials: sessionToken
        ? { accessKeyId, secretAccessKey, sessionToken }
        : { accessKeyId, secretAccessKey },
      sha256: Sha256,
      // non-S3 services sign the already-encoded path encoded once more (model ids contain ':')
      uriEscapePath: true,
    });
    signers.set(p, s);
  }
  return s;
}

/** Headers to send, including authorization, x-amz-date and x-amz-content-sha256. */
export async function signRequest(
  p: ResolvedProvider,
  method: 'POST' | 'GET',
  pathAndQuery: string,
  headers: Record<string, string>,
  body: string,
): Promise<Record<string, string>> {
  const url = new URL(pathAndQuery, p.origin);
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => {
    query[k] = v;
  });
  const signed = await (await signerFor(p)).sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    // undici sends exactly this host header, so it is the one that gets signed
    headers: { ...headers, host: url.host },
    body,
  });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) out[k] = String(v);
  return out;
}
