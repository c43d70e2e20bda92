// Issue 14, items 1 and 2, on a real kube-apiserver: the operator renders, a dataplane is fed the
// rendered ConfigMap and Secret through kubelet-style volume folders, and callers hit it over HTTP.
//   * The only tenant rejected (a missing AIPolicy, then its API-key Secret deleted) must not open
//     the gateway: callers without a key and with a made-up key get 401, the tenant's own callers
//     401/403, and its status says why.
//   * Three AINamespaces in another namespace try to capture team-b's header-identified traffic
//     (a copied X-Channel-Code, regex ".*", present:false): each is rejected with a status condition
//     and a Warning Event, and team-b's callers keep reaching team-b's provider.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import type { Resource } from '../../operator/src/api/common.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { VolumeSyncer } from '../e2e/kubelet_sync.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { testLogger } from '../helpers/logging.ts';
import {
  apply,
  applySecret,
  condition,
  cr,
  get,
  OUT_NS,
  pathOf,
  remove,
  startOperator,
  waitFor,
} from './helpers.ts';

const B = 'team-b';
const EVIL = 'evil';
let env: SluiceEnv;
let op: Operator;
let work: string;
let dataplane: Dataplane | undefined;
let url = '';
const syncers: VolumeSyncer[] = [];

interface Answer {
  status: number;
  code?: string;
  text?: string;
}

async function chat(headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = (await res.json()) as {
    error?: { code?: string };
    choices?: Array<{ message: { content: string } }>;
  };
  return { status: res.status, code: body.error?.code, text: body.choices?.[0]?.message.content };
}

/** Poll until `chat(headers)` answers as expected: the dataplane follows the operator's renders. */
async function expectAnswer(headers: Record<string, string>, want: Partial<Answer>): Promise<void> {
  let last: Answer | undefined;
  await waitFor(`answer ${JSON.stringify(want)} to ${JSON.stringify(headers)}`, async () => {
    last = await chat(headers);
    return Object.entries(want).every(([k, v]) => last?.[k as keyof Answer] === v);
  }).catch((err: Error) => {
    throw new Error(`${err.message}; last answer ${JSON.stringify(last)}`);
  });
}

const accepted = async (kind: string, ns: string, name: string) =>
  condition(await get<Resource<unknown>>(env.rest, pathOf(kind, ns, name)), 'Accepted');

async function waitAccepted(kind: string, ns: string, name: string, status: 'True' | 'False') {
  return waitFor(`${kind} ${ns}/${name} Accepted=${status}`, async () => {
    const c = await accepted(kind, ns, name);
    return c?.status === status ? c : undefined;
  });
}

async function warningEvents(ns: string, name: string): Promise<Array<{ reason: string; message: string }>> {
  const list = await env.rest.request<{ items: Array<{ type: string; reason: string; message: string }> }>(
    'GET',
    `/api/v1/namespaces/${ns}/events`,
    { query: { fieldSelector: `involvedObject.name=${name},involvedObject.kind=AINamespace` } },
  );
  return list.items.filter((e) => e.type === 'Warning');
}

const mockProvider = (ns: string, text: string) =>
  cr('AIProvider', 'mock', ns, { type: 'mock', mock: { text, outputTokens: 2 } });
const route = (ns: string) =>
  cr('AIRoute', 'chat', ns, { match: { models: ['m'] }, backends: [{ providerRef: { name: 'mock' } }] });

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [B, EVIL, OUT_NS]) await env.namespace(ns);
  op = await startOperator(env.kc, { namespaces: [B, EVIL], secretsDir: '../secrets', secretRefreshMs: 200 });
  work = mkdtempSync(join(tmpdir(), 'sluice-tenancy-'));
});

afterAll(async () => {
  await dataplane?.stop();
  await Promise.all(syncers.map((s) => s.stop()));
  await op?.stop();
  await env?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Start the dataplane on the operator's rendered ConfigMap and Secret (once they exist). */
async function startDataplaneOnRendered(): Promise<void> {
  if (dataplane) return;
  const cm = new VolumeSyncer(env.kc, env.rest, 'configmaps', OUT_NS, 'sluice-config', join(work, 'config'));
  const sec = new VolumeSyncer(env.kc, env.rest, 'secrets', OUT_NS, 'sluice-secrets', join(work, 'secrets'));
  syncers.push(cm, sec);
  await Promise.all([cm.start(), sec.start()]);
  await Promise.all([cm.ready, sec.ready]);
  dataplane = new Dataplane({
    configFile: join(work, 'config', 'config.yaml'),
    log: testLogger(),
    host: '127.0.0.1',
    port: 0,
  });
  url = await dataplane.start();
}

describe('the only tenant rejected', () => {
  it('leaves the gateway closed: no key and made-up keys get 401, the tenant 403, and its status says why', async () => {
    await applySecret(env.rest, B, 'client-keys', { alice: 'sk-alice-0001' });
    await apply(env.rest, mockProvider(B, 'team-b answer'));
    await apply(env.rest, route(B));
    await apply(
      env.rest,
      cr('AINamespace', 'team', B, {
        match: { apiKeys: { secretRefs: [{ name: 'client-keys' }] } },
        policies: ['limits'],
      }),
    );
    const why = await waitAccepted('AINamespace', B, 'team', 'False');
    expect(why.message).toContain('AIPolicy "limits" not found');
    await startDataplaneOnRendered();

    await expectAnswer({}, { status: 401, code: 'SLUICE_ERR_UNAUTHENTICATED' });
    await expectAnswer(
      { authorization: 'Bearer sk-made-up' },
      { status: 401, code: 'SLUICE_ERR_UNAUTHENTICATED' },
    );
    await expectAnswer(
      { authorization: 'Bearer sk-alice-0001' },
      { status: 403, code: 'SLUICE_ERR_FORBIDDEN' },
    );

    // the policy appears: the tenant is served
    await apply(env.rest, cr('AIPolicy', 'limits', B, { requests: { limit: 1000, window: 'minute' } }));
    await waitAccepted('AINamespace', B, 'team', 'True');
    await expectAnswer({ authorization: 'Bearer sk-alice-0001' }, { status: 200, text: 'team-b answer' });

    // its API-key Secret is deleted: rejected again, and still nobody is let in
    await remove(env.rest, `/api/v1/namespaces/${B}/secrets/client-keys`);
    const gone = await waitAccepted('AINamespace', B, 'team', 'False');
    expect(gone.message).toContain('Secret "client-keys" not found');
    await expectAnswer({ authorization: 'Bearer sk-alice-0001' }, { status: 401 });
    for (const headers of [{}, { authorization: 'Bearer sk-made-up' }] as Record<string, string>[])
      expect(await chat(headers)).toMatchObject({ status: 401, code: 'SLUICE_ERR_UNAUTHENTICATED' });
    expect((await warningEvents(B, 'team')).map((e) => e.reason)).toContain('InvalidRefs');
  });
});

describe('capturing team-b by header matchers', () => {
  it('rejects a copied X-Channel-Code, regex ".*" and present:false with a status and an Event', async () => {
    await apply(
      env.rest,
      cr('AINamespace', 'channel', B, { match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-001' }] } }),
    );
    await waitAccepted('AINamespace', B, 'channel', 'True');
    await startDataplaneOnRendered();
    await expectAnswer({ 'x-channel-code': 'ch-001', authorization: 'Bearer placeholder' }, { status: 200 });

    // created after team-b's: theirs is the later object, so theirs is refused
    await apply(env.rest, mockProvider(EVIL, 'evil captured'));
    await apply(env.rest, route(EVIL));
    const attempts: Array<[string, unknown, string, string]> = [
      ['copy', { name: 'x-channel-code', equals: 'ch-001' }, 'Conflicted', 'AINamespace team-b/channel'],
      ['rx', { name: 'X-Channel-Code', regex: '.*' }, 'Invalid', 'must match exact values'],
      ['absent', { name: 'X-Nobody-Sends-This', present: false }, 'Invalid', 'must match exact values'],
    ];
    for (const [name, header] of attempts)
      await apply(env.rest, cr('AINamespace', name, EVIL, { match: { headers: [header] } }));
    for (const [name, , reason, text] of attempts) {
      const c = await waitAccepted('AINamespace', EVIL, name, 'False');
      expect(c.reason, name).toBe(reason);
      expect(c.message, name).toContain(text);
      const events = await waitFor(`a Warning Event for evil/${name}`, async () => {
        const e = await warningEvents(EVIL, name);
        return e.length ? e : undefined;
      });
      expect(events[0]?.reason).toBe(reason);
      expect(events[0]?.message).toContain(text);
    }

    // team-b's callers still reach team-b's provider; a caller with nothing is refused
    for (let i = 0; i < 5; i++)
      expect(await chat({ 'x-channel-code': 'ch-001', authorization: 'Bearer placeholder' })).toMatchObject({
        status: 200,
        text: 'team-b answer',
      });
    expect(await chat({})).toMatchObject({ status: 401 });
    expect(await chat({ 'x-channel-code': 'anything-else' })).toMatchObject({ status: 401 });
  });
});
