// Requests that are no chat exchange (a model list, a token count, a stored response's read, items
// and delete) are requests too: each success and each error has one access line naming what was
// called and counts in sluice_requests_total under its own `api` label, never under a chat API's.
// None of them is a generative operation, so gen_ai_server_request_duration does not observe them.
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const KEY = 'sk-plain-requests-observed-01';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const lines: string[] = [];
let dp: InProcessDataplane;
const auth = { authorization: `Bearer ${KEY}` };
const json = { ...auth, 'content-type': 'application/json' };

beforeAll(async () => {
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  dp = await startDataplane(
    {
      providers: [{ name: 'mock', type: 'mock', models: [{ name: 'm' }], mock: { outputTokens: 2 } }],
      routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
      namespaces: [{ name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256(KEY) }] } }],
    },
    log,
  );
});
afterAll(async () => {
  await dp?.stop();
});

async function accessLine(reqId: string): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const found = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request' && l.reqId === reqId);
    if (found.length > 0 || Date.now() > deadline) {
      // a second, later line would be a double count: give the writer time to flush it too
      await new Promise((r) => setTimeout(r, 150));
      return lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === 'request' && l.reqId === reqId);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metricsText(): Promise<string> {
  return (await fetch(`${dp.adminUrl}/metrics`)).text();
}

function count(text: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`sluice_requests_total{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** gen_ai_server_request_duration observations under one operation name, all labels summed */
function durationCount(text: string, api: string): number {
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('gen_ai_server_request_duration_count{') && l.includes(`gen_ai_operation_name="${api}"`),
    )
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

async function storedResponse(): Promise<string> {
  const res = await fetch(`${dp.url}/v1/responses`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ model: 'm', input: 'hi' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

interface Case {
  name: string;
  api: string;
  status: number;
  code: string;
  namespace: string;
  send: () => Promise<Response>;
}

const cases: Case[] = [
  {
    name: 'GET /v1/models',
    api: 'openai-models',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: () => fetch(`${dp.url}/v1/models`, { headers: auth }),
  },
  {
    name: 'GET /v1/models/{id}',
    api: 'openai-models',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: () => fetch(`${dp.url}/v1/models/m`, { headers: auth }),
  },
  {
    name: 'GET /v1/models in Anthropic shape',
    api: 'anthropic-models',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: () => fetch(`${dp.url}/v1/models`, { headers: { ...auth, 'anthropic-version': '2023-06-01' } }),
  },
  {
    name: 'GET /v1/models without a credential',
    api: 'openai-models',
    status: 401,
    code: 'SLUICE_ERR_UNAUTHENTICATED',
    namespace: 'none',
    send: () => fetch(`${dp.url}/v1/models`),
  },
  {
    name: 'POST /v1/messages/count_tokens',
    api: 'anthropic-count-tokens',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: () =>
      fetch(`${dp.url}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'count me' }] }),
      }),
  },
  {
    name: 'POST /v1/messages/count_tokens without a credential',
    api: 'anthropic-count-tokens',
    status: 401,
    code: 'SLUICE_ERR_UNAUTHENTICATED',
    namespace: 'none',
    send: () =>
      fetch(`${dp.url}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'count me' }] }),
      }),
  },
  {
    name: 'GET /v1/responses/{id}',
    api: 'openai-responses-retrieve',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: async () => fetch(`${dp.url}/v1/responses/${await storedResponse()}`, { headers: auth }),
  },
  {
    name: 'GET /v1/responses/{id} of an unknown id',
    api: 'openai-responses-retrieve',
    status: 404,
    code: 'SLUICE_ERR_RESPONSE_NOT_FOUND',
    namespace: 'team',
    send: () => fetch(`${dp.url}/v1/responses/resp_unknown0000`, { headers: auth }),
  },
  {
    name: 'GET /v1/models/{id} of a model the caller may not use',
    api: 'openai-models',
    status: 404,
    code: 'SLUICE_ERR_UNKNOWN_MODEL',
    namespace: 'team',
    send: () => fetch(`${dp.url}/v1/models/not-a-model`, { headers: auth }),
  },
  {
    name: 'GET /v1/responses/{id}/input_items',
    api: 'openai-responses-input-items',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: async () =>
      fetch(`${dp.url}/v1/responses/${await storedResponse()}/input_items`, { headers: auth }),
  },
  {
    name: 'DELETE /v1/responses/{id}',
    api: 'openai-responses-delete',
    status: 200,
    code: 'ok',
    namespace: 'team',
    send: async () =>
      fetch(`${dp.url}/v1/responses/${await storedResponse()}`, { method: 'DELETE', headers: auth }),
  },
];

describe('requests that are no chat exchange are observed under their own api', () => {
  for (const c of cases) {
    it(`${c.name}: one access line naming it, one count under api="${c.api}", no chat duration`, async () => {
      const labels = `route="none",namespace="${c.namespace}",api="${c.api}",status="${c.status}",code="${c.code}"`;
      const before = await metricsText();
      const res = await c.send();
      await res.text();
      expect(res.status).toBe(c.status);
      const logged = await accessLine(res.headers.get('x-request-id') as string);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ api: c.api, status: c.status, code: c.code });
      expect(logged[0]?.namespace).toBe(c.namespace === 'none' ? undefined : c.namespace);
      expect(typeof logged[0]?.ms).toBe('number');
      const after = await metricsText();
      expect(count(after, labels)).toBe(count(before, labels) + 1);
      // not a generative operation: neither its own nor a chat API's latency series moved
      expect(durationCount(after, c.api)).toBe(0);
    });
  }

  it("keeps the client's own request id beside Sluice's on these lines, answered or refused", async () => {
    const sent = [
      { clientId: 'client-own-models-1', headers: { ...auth, 'x-client-request-id': 'client-own-models-1' } },
      // refused before any exchange began (request_answers.ts answerError); x-request-id is a client id too
      { clientId: 'client-own-models-2', headers: { 'x-request-id': 'client-own-models-2' } },
    ];
    for (const [i, { clientId, headers }] of sent.entries()) {
      const res = await fetch(`${dp.url}/v1/models`, { headers });
      await res.text();
      expect(res.status).toBe(i === 0 ? 200 : 401);
      const reqId = res.headers.get('x-request-id') as string;
      expect(reqId).not.toBe(clientId);
      expect(res.headers.get('x-client-request-id')).toBe(clientId);
      const logged = await accessLine(reqId);
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({
        api: 'openai-models',
        clientReqId: clientId,
        code: i === 0 ? 'ok' : 'SLUICE_ERR_UNAUTHENTICATED',
      });
    }
  });

  it('a chat exchange still counts under its client API and its duration', async () => {
    const before = await metricsText();
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
    expect(res.status).toBe(200);
    const logged = await accessLine(res.headers.get('x-request-id') as string);
    expect(logged).toHaveLength(1);
    // a routed exchange's line names its route and model, not an api
    expect(logged[0]).toMatchObject({ route: 'r', status: 200, code: 'ok' });
    expect(logged[0]?.api).toBeUndefined();
    const after = await metricsText();
    const labels = 'route="r",namespace="team",api="openai-chat",status="200",code="ok"';
    expect(count(after, labels)).toBe(count(before, labels) + 1);
    expect(durationCount(after, 'openai-chat')).toBe(durationCount(before, 'openai-chat') + 1);
  });
});
