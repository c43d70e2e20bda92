// Pods found through a Service's EndpointSlices are IP addresses; the egress policy judges them under
// the Service's DNS name, so `allow: ["*.models.svc.cluster.local"]` admits that namespace's pods
// while the chart's default deny of private ranges and *.svc names keeps everything else out.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SluiceConfig } from '../config/schema.ts';
import { checkEgress } from '../config/tenancy.ts';
import { setEgressPolicy } from './egress.ts';
import { HttpTransport } from './transport.ts';

let server: Server;
let origin: string;
const TIMEOUTS = { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000, totalMs: 2_000 };

beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  setEgressPolicy({
    deny: ['127.0.0.0/8', '*.svc', '*.svc.cluster.local'],
    allow: ['*.models.svc.cluster.local'],
  });
});
afterAll(async () => {
  setEgressPolicy(undefined);
  await new Promise((r) => server.close(r));
});

async function get(t: HttpTransport): Promise<number> {
  try {
    const res = await t.send(
      { method: 'GET', path: '/', headers: {}, body: '' },
      AbortSignal.timeout(2_000),
      TIMEOUTS,
    );
    for await (const _ of res.body) {
      // drain
    }
    return res.status;
  } finally {
    await t.close();
  }
}

describe('egress policy for discovered pods', () => {
  it('admits a pod of a Service in an allowed namespace, not one elsewhere, not a bare address', async () => {
    expect(await get(new HttpTransport(origin, 1, 1_000, 'llama.models.svc.cluster.local'))).toBe(200);
    await expect(
      get(new HttpTransport(origin, 1, 1_000, 'llama.other.svc.cluster.local')),
    ).rejects.toMatchObject({
      code: 'SLUICE_EGRESS_DENIED',
    });
    await expect(get(new HttpTransport(origin, 1, 1_000))).rejects.toMatchObject({
      code: 'SLUICE_EGRESS_DENIED',
    });
  });
});

describe('egress check of a config with endpoints', () => {
  const egress = {
    deny: ['127.0.0.0/8', 'localhost', '*.svc', '*.svc.cluster.local'],
    allow: ['*.models.svc.cluster.local'],
  };
  const config = (endpoints: unknown) =>
    ({ egress, providers: [{ name: 'llama', type: 'vllm', endpoints }] }) as unknown as SluiceConfig;

  it("judges a Service-backed provider by the Service's name, not the preset's localhost URL", () => {
    expect(
      checkEgress(config({ kubernetes: { namespace: 'models', service: 'llama', scheme: 'http' } })),
    ).toEqual([]);
    expect(
      checkEgress(config({ kubernetes: { namespace: 'other', service: 'llama', scheme: 'http' } })),
    ).toEqual([
      {
        path: 'providers[0].endpoints.kubernetes',
        message: expect.stringContaining('llama.other.svc.cluster.local'),
      },
    ]);
  });

  it('checks every static endpoint', () => {
    expect(checkEgress(config({ static: ['http://10.0.0.7:8000', 'http://127.0.0.1:8000'] }))).toEqual([
      { path: 'providers[0].endpoints.static[1]', message: expect.stringContaining('127.0.0.1') },
    ]);
  });
});
