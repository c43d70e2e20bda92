// A client's request id and trace context, from one tenant, must never pass for another's. Sluice
// took a valid `x-request-id` as its own request id and a client's traceparent as its server span's
// parent: a tenant that had seen another tenant's request id (a shared log, a support ticket) could
// give its own requests that id (in the access log, on spans, in `chatcmpl-<id>` answer ids), and put
// its spans into the other tenant's trace. The request id is now always Sluice's own, the client's kept
// beside it (`x-client-request-id`, `clientReqId`, `sluice.client_request_id`); a client's traceparent
// is a link of a trace Sluice starts (`tracing.clientTraceContext: link`, the default).
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type Collector, SPAN_KIND, startCollector } from '../helpers/otel_collector.ts';
import { sha256 } from '../policy/fixtures.ts';

const KEY_A = 'sk-request-ids-tenant-a-01';
const KEY_B = 'sk-request-ids-tenant-b-02';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const lines: string[] = [];
let collector: Collector;
let dp: InProcessDataplane;

beforeAll(async () => {
  collector = await startCollector();
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  dp = await startDataplane(
    {
      server: { tracing: { enabled: true, endpoint: collector.endpoint, samplingRatio: 0 } },
      providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 2 } }],
      routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
      namespaces: [
        { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] } },
        { name: 'team-b', match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] } },
      ],
    },
    log,
  );
  // the tracer starts after the listener (its SDK is imported then)
  for (let i = 0; i < 300 && !lines.some((l) => l.includes('"tracing on"')); i++)
    await new Promise((r) => setTimeout(r, 100));
}, 60_000);

afterAll(async () => {
  await dp?.stop();
  await collector?.stop();
});

const chat = (key: string, headers: Record<string, string> = {}, stream = false) =>
  fetch(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
  });

/** access lines whose `field` is `value`, once the writer has flushed them */
async function accessLines(field: string, value: string, atLeast: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const found = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request' && l[field] === value);
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("another tenant's request id", () => {
  it('is kept as the client request id, never taken as the request id', async () => {
    const theirs = await chat(KEY_B, { 'x-request-id': 'team-b-req-0001' });
    const theirId = theirs.headers.get('x-request-id') as string;
    expect(theirId).toMatch(UUID);
    expect(theirs.headers.get('x-client-request-id')).toBe('team-b-req-0001');
    // team-a replays both the id team-b chose and the id Sluice gave team-b
    for (const reused of ['team-b-req-0001', theirId]) {
      const mine = await chat(KEY_A, { 'x-request-id': reused });
      expect(mine.status).toBe(200);
      const myId = mine.headers.get('x-request-id') as string;
      expect(myId).toMatch(UUID);
      expect(myId).not.toBe(reused);
      expect(mine.headers.get('x-client-request-id')).toBe(reused);
      // nothing of the answer is made from the client's id
      expect(await mine.text()).not.toContain(reused);
      const [line] = await accessLines('reqId', myId, 1);
      expect(line).toMatchObject({ namespace: 'team-a', clientReqId: reused });
    }
    // a search by team-b's request id finds team-b's line alone
    const found = await accessLines('reqId', theirId, 1);
    expect(found.map((l) => l.namespace)).toEqual(['team-b']);
  });
});

describe("the client's own id on a streamed answer", () => {
  // A stream's headers were written by hand after the reply was hijacked, from a list that left out
  // what the request's hooks had put on the reply: the echo of the client's id went missing on every
  // streamed answer (header_fuzz.test.ts found it), while whole answers had it.
  it('is echoed as on a whole answer, by either header', async () => {
    for (const header of ['x-request-id', 'x-client-request-id']) {
      const r = await chat(KEY_A, { [header]: `stream-${header}` }, true);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/event-stream');
      expect(r.headers.get('x-request-id')).toMatch(UUID);
      expect(r.headers.get('x-client-request-id')).toBe(`stream-${header}`);
      expect(await r.text()).toContain('[DONE]');
    }
  });
});

describe("another tenant's trace", () => {
  it('is linked, never joined: Sluice starts its own trace for each request', {
    timeout: 60_000,
  }, async () => {
    const traceId = 'a1'.repeat(16);
    const traceparent = `00-${traceId}-${'b2'.repeat(8)}-01`;
    const theirs = await chat(KEY_B, { traceparent });
    const mine = await chat(KEY_A, { traceparent, 'x-client-request-id': 'team-a-own-1' });
    const ids = [theirs, mine].map((r) => r.headers.get('x-request-id'));
    const deadline = Date.now() + 30_000;
    const spansOf = (id: string | null) =>
      collector.spans.filter((s) => s.kind === SPAN_KIND.SERVER && s.attributes['sluice.request_id'] === id);
    while (ids.some((id) => spansOf(id).length === 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const [theirSpan, mySpan] = ids.map((id) => spansOf(id)[0]);
    // the client's sampled flag still records the request (samplingRatio is 0 here)
    expect(theirSpan && mySpan).toBeTruthy();
    for (const span of [theirSpan, mySpan]) {
      expect(span?.traceId).not.toBe(traceId);
      expect(span?.parentSpanId).toBe('');
      expect(span?.links).toEqual([{ traceId, spanId: 'b2'.repeat(8) }]);
    }
    expect(theirSpan?.traceId).not.toBe(mySpan?.traceId);
    expect(mySpan?.attributes['sluice.client_request_id']).toBe('team-a-own-1');
    expect(collector.spans.filter((s) => s.traceId === traceId)).toEqual([]);
  });
});
