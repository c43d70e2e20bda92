// An independent AWS Signature Version 4 verifier for the fake Bedrock (node:crypto only, written from
// AWS's documented algorithm, not from the signer the gateway uses, so the two check each other):
// canonical request (method, double-encoded path, sorted query, signed headers, payload hash) ->
// string to sign (AWS4-HMAC-SHA256, x-amz-date, scope, hash) -> HMAC chain from "AWS4" + secret.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface SigV4Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
  service: string;
}

export interface SigV4Failure {
  status: 403;
  errorType: string;
  message: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as AWS specifies it: everything but A-Z a-z 0-9 - _ . ~ is %XX (uppercase). */
function awsEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const fail = (errorType: string, message: string): SigV4Failure => ({ status: 403, errorType, message });

export function verifySigV4(
  method: string,
  rawUrl: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
  keys: SigV4Keys,
  now = Date.now(),
): SigV4Failure | undefined {
  const auth = header(headers, 'authorization');
  if (!auth) return fail('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m)
    return fail(
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.`,
    );
  const [, accessKey, date, region, service, signedList, signature] = m as unknown as string[];
  if (accessKey !== keys.accessKeyId)
    return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (region !== keys.region)
    return fail('InvalidSignatureException', `Credential should be scoped to a valid region.`);
  if (service !== keys.service)
    return fail(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${keys.service}'.`,
    );
  const amzDate = header(headers, 'x-amz-date') ?? '';
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(date as string))
    return fail(
      'IncompleteSignatureException',
      'Date must be in ISO-8601 basic format and match the credential scope.',
    );
  const ts = Date.UTC(
    +amzDate.slice(0, 4),
    +amzDate.slice(4, 6) - 1,
    +amzDate.slice(6, 8),
    +amzDate.slice(9, 11),
    +amzDate.slice(11, 13),
    +amzDate.slice(13, 15),
  );
  if (Math.abs(now - ts) > 5 * 60_000)
    return fail('InvalidSignatureException', 'Signature expired: the request time is too skewed.');
  const signed = (signedList as string).split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date'))
    return fail('InvalidSignatureException', 'The host and x-amz-date headers must be signed.');
  if (keys.sessionToken !== undefined) {
    if (
      header(headers, 'x-amz-security-token') !== keys.sessionToken ||
      !signed.includes('x-amz-security-token')
    )
      return fail('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const payloadHash = sha256(body);
  const claimed = header(headers, 'x-amz-content-sha256');
  if (claimed !== undefined && claimed !== payloadHash)
    return fail(
      'InvalidSignatureException',
      'The provided x-amz-content-sha256 header does not match what was computed.',
    );

  const [rawPath, rawQuery = ''] = rawUrl.split('?') as [string, string?];
  // Non-S3 services: each segment of the path as sent is URI-encoded once more.
  const canonicalUri = rawPath.split('/').map(awsEncode).join('/');
  const canonicalQuery = [...new URLSearchParams(rawQuery)]
    .map(([k, v]) => [awsEncode(k), awsEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signed
    .map((h) => `${h}:${(header(headers, h) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedList,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${keys.secretAccessKey}`, date as string);
  const kSigning = hmac(hmac(hmac(kDate, region as string), service as string), 'aws4_request');
  const expected = hmac(kSigning, stringToSign);
  const given = Buffer.from(signature as string, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(
      'InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return undefined;
}
