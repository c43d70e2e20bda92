// A fake Azure OpenAI resource serving the Responses API in Azure's documented wire format, in front of
// an OpenAI fake (openai_agentic.ts) that keeps the responses (Azure's Responses API is OpenAI's,
// behind Azure's addressing): the preview paths `/openai/responses` and `/openai/responses/{id}`
// with a required `api-version` query (at least 2025-03-01-preview, the first that has them), and the
// v1 paths `/openai/v1/responses[/{id}]` (no api-version needed); the key in the `api-key` header; a
// POST's `model` naming one of the resource's deployments. It checks what it receives and answers
// what Azure answers otherwise: 401 for a missing or wrong key, 404 `{"error":{"code":"404",
// "message":"Resource not found"}}` for a path or api-version it does not serve (Azure's answer to a
// request that never reached the Responses API: not "the response is gone"), 404 DeploymentNotFound
// for an unknown deployment. What passes goes on to the OpenAI fake as OpenAI's request.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeAgentic } from './openai_agentic.ts';

type Obj = Record<string, unknown>;

/** The first api-version with the Responses API (preview paths). */
const MIN_RESPONSES_API_VERSION = '2025-03-01-preview';

export interface AzureRecord {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeAzureResponses {
  url: string;
  /** every request as Azure received it (before its checks) */
  requests: AzureRecord[];
  close(): Promise<void>;
}

function azureError(res: ServerResponse, status: number, error: Obj): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error }));
}

const RESOURCE_NOT_FOUND = { code: '404', message: 'Resource not found' };

/** `/openai/responses...` (preview, needs a recent api-version) or `/openai/v1/responses...`: the rest. */
function responsesTail(path: string, query: URLSearchParams): string | undefined {
  const v1 = /^\/openai\/v1\/responses(\/[^/]+)?$/.exec(path);
  if (v1) return v1[1] ?? '';
  const preview = /^\/openai\/responses(\/[^/]+)?$/.exec(path);
  const version = query.get('api-version');
  if (!preview || version === null || version < MIN_RESPONSES_API_VERSION) return undefined;
  return preview[1] ?? '';
}

/**
 * Azure resource `apiKey` with `deployments`, over `backend` (an OpenAI fake expecting
 * `backendKey` as its Bearer key).
 */
export async function startFakeAzureResponses(opts: {
  apiKey: string;
  deployments: string[];
  backend: FakeAgentic;
  backendKey: string;
}): Promise<FakeAzureResponses> {
  const requests: AzureRecord[] = [];
  const backend = new URL(opts.backend.url);
  const server = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://azure.invalid');
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    });
    if (req.headers['api-key'] !== opts.apiKey)
      return azureError(res, 401, {
        code: '401',
        message:
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      });
    const tail = responsesTail(url.pathname, url.searchParams);
    if (tail === undefined) return azureError(res, 404, RESOURCE_NOT_FOUND);
    if (req.method === 'POST') {
      if (tail !== '') return azureError(res, 404, RESOURCE_NOT_FOUND);
      let model: unknown;
      try {
        model = (JSON.parse(body) as Obj).model;
      } catch {
        return azureError(res, 400, { code: 'BadRequest', message: 'The request body is not valid JSON.' });
      }
      if (typeof model !== 'string' || !opts.deployments.includes(model))
        return azureError(res, 404, {
          code: 'DeploymentNotFound',
          message:
            'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.',
        });
    } else if ((req.method !== 'DELETE' && req.method !== 'GET') || tail === '' || body !== '')
      return azureError(res, 404, RESOURCE_NOT_FOUND);
    // Azure's Responses API itself: OpenAI's, at OpenAI's path with the backend's key
    const upstream = request(
      {
        host: backend.hostname,
        port: backend.port,
        method: req.method,
        path: `/v1/responses${tail}`,
        headers: {
          authorization: `Bearer ${opts.backendKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, {
          'content-type': up.headers['content-type'] ?? 'application/json',
        });
        up.pipe(res);
      },
    );
    upstream.on('error', () => azureError(res, 502, { code: 'BadGateway', message: 'backend unreachable' }));
    upstream.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
