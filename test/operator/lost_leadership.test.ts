// Lost leadership against a real kube-apiserver: a leader whose Lease is taken over, a leader whose
// requests hang (the API server frozen), and the `sluice operator` process, which exits when it
// cannot renew so that a restarted process campaigns afresh. In each case the old leader stops
// writing, and a leader (the same replica once it wins again, or a new process) converges.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeError } from '../../kube/kube_rest.ts';
import { microTime } from '../../kube/replica_lease.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { freezeApiServer } from '../envtest/apiserver_faults.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { NODE_BIN, REPO_ROOT } from '../helpers/dataplane.ts';
import { recordProcessLogs } from '../helpers/logging.ts';
import { outputVersions, renderedRoutes, scrape, sleep } from './fault_helpers.ts';
import { apply, applySecret, cr, OUT_NS, startOperator, waitFor } from './helpers.ts';

const NS = 'team-l';
let env: SluiceEnv;
const running: Operator[] = [];
const children: ChildProcess[] = [];

interface LeaseRecord {
  metadata: { resourceVersion: string };
  spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
}
const leasePath = (name: string) => `/apis/coordination.k8s.io/v1/namespaces/${OUT_NS}/leases/${name}`;
const route = (models: string[]) =>
  cr('AIRoute', 'r', NS, { match: { models }, backends: [{ providerRef: { name: 'p' } }] });
const servedModel = async () => (await renderedRoutes(env.rest))[`${NS}.r`]?.[0];

beforeAll(async () => {
  env = await startSluiceEnv();
  for (const ns of [OUT_NS, NS]) await env.namespace(ns);
  await applySecret(env.rest, NS, 'k', { apiKey: 'sk-lease' });
  await apply(
    env.rest,
    cr('AIProvider', 'p', NS, { type: 'openai', credentials: { apiKeySecretRef: { name: 'k' } } }),
  );
  await apply(env.rest, route(['m0']));
});
afterAll(async () => {
  for (const op of running) await op.stop().catch(() => {});
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await env?.stop();
});

async function leader(leaseName: string, timing: { lease: number; renewMs: number }) {
  const lost: number[] = [];
  const op = await startOperator(env.kc, {
    namespaces: [NS],
    leaderElect: true,
    leaseName,
    identity: `replica-${leaseName}`,
    leaseDurationSeconds: timing.lease,
    renewDeadlineMs: timing.renewMs,
    retryPeriodMs: 200,
    metricsPort: 0,
    metricsHost: '127.0.0.1',
    onLostLeadership: () => lost.push(Date.now()),
  });
  running.push(op);
  await waitFor('leading', async () => op.isLeader && op.stats.renders > 0, 20_000);
  return { op, lost };
}

/**
 * Writes the Lease as another client would: read, change, write, and read again on a 409 (the leader
 * renews every 200 ms, so a write based on an older read can lose that race).
 */
async function updateLease(name: string, change: () => Partial<LeaseRecord['spec']>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await env.rest.request<LeaseRecord>('GET', leasePath(name));
    try {
      await env.rest.request('PUT', leasePath(name), {
        body: { ...current, spec: { ...current.spec, ...change() } },
      });
      return;
    } catch (err) {
      if (!(err instanceof KubeError) || err.code !== 409 || attempt >= 20) throw err;
    }
  }
}

describe('lost leadership', () => {
  it('a leader whose Lease is taken over steps down at once and writes nothing; it leads again once the Lease is free', async () => {
    const timing = { lease: 5, renewMs: 4_000 };
    const { op, lost } = await leader('takeover', timing);
    await apply(env.rest, route(['m1']));
    await waitFor('m1 served', async () => (await servedModel()) === 'm1');

    const lease = await env.rest.request<LeaseRecord>('GET', leasePath('takeover'));
    expect(lease.spec.holderIdentity).toBe(op.identity);
    await updateLease('takeover', () => ({
      holderIdentity: 'intruder',
      renewTime: microTime(),
      leaseDurationSeconds: 3600,
    }));
    const t = Date.now();
    await waitFor('stepped down', async () => !op.isLeader, 10_000);
    // on seeing another holder, not only once the renew deadline has passed
    expect(Date.now() - t).toBeLessThan(timing.renewMs / 2);
    expect(lost).toHaveLength(1);
    expect(await scrape(op, 'sluice_operator_leader')).toBe(0);

    const before = await outputVersions(env.rest);
    const stats = { ...op.stats };
    await apply(env.rest, route(['m2']));
    await sleep(2_000); // a leader would have rendered this within tens of milliseconds
    expect(await outputVersions(env.rest)).toEqual(before);
    expect(op.stats).toEqual(stats);
    expect(await servedModel()).toBe('m1');
    const held = await env.rest.request<LeaseRecord>('GET', leasePath('takeover'));
    expect(held.spec.holderIdentity).toBe('intruder'); // a valid Lease of another is not taken

    // the intruder releases the Lease (as a leader does on shutdown): the replica wins it and catches up
    await updateLease('takeover', () => ({ holderIdentity: '', leaseDurationSeconds: 1 }));
    await waitFor('leads again', async () => op.isLeader, 10_000);
    await waitFor('m2 served', async () => (await servedModel()) === 'm2', 10_000);
    await op.stop();
  }, 60_000);

  it('a leader whose requests hang (API server frozen) steps down within the renew deadline', async () => {
    const timing = { lease: 3, renewMs: 2_000 };
    const { op, lost } = await leader('frozen', timing);
    const resume = freezeApiServer(env.cp);
    const t = Date.now();
    try {
      await waitFor('stepped down', async () => !op.isLeader, 15_000);
      expect(Date.now() - t).toBeLessThan(timing.renewMs + 1_500);
      expect(lost).toHaveLength(1);
      expect(await scrape(op, 'sluice_operator_leader')).toBe(0);
    } finally {
      resume();
    }
    // the API server answers again: the replica (still campaigning in-process) wins and converges
    await apply(env.rest, route(['m3']));
    await waitFor('leads again', async () => op.isLeader, 15_000);
    await waitFor('m3 served', async () => (await servedModel()) === 'm3', 15_000);
    await op.stop();
  }, 60_000);

  it('the operator process exits 1 when it cannot renew, and a restarted process takes over', async () => {
    const spawnOperator = (name: string, timing: string[]) => {
      const logs: string[] = [];
      const child = spawn(
        NODE_BIN,
        [
          join(REPO_ROOT, 'bin/sluice.js'),
          'operator',
          ...['--kubeconfig', env.cp.kubeconfigPath, '--namespaces', NS, '--output-namespace', OUT_NS],
          ...['--leader-elect', '--lease-name', 'cli', '--metrics-port', '0', '--metrics-host', '127.0.0.1'],
          ...timing,
        ],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, SLUICE_LOG_LEVEL: 'info' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => logs.push(d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      void exited.then(() => recordProcessLogs(`lost-leadership-${name}`, logs));
      return { child, logs, exited, text: () => logs.join('') };
    };

    const first = spawnOperator('first', [
      ...['--leader-elect-lease-duration', '3s', '--leader-elect-renew-deadline', '2s'],
      ...['--leader-elect-retry-period', '200ms'],
    ]);
    await waitFor('first leads', async () => first.text().includes('"msg":"became leader"'), 30_000);
    await apply(env.rest, route(['m4']));
    await waitFor('m4 served', async () => (await servedModel()) === 'm4');

    await env.cp.stopApiServer(0);
    let code: number | null;
    try {
      code = await Promise.race([first.exited, sleep(15_000).then(() => 'still running' as const)]).then(
        (c) => (c === 'still running' ? Promise.reject(new Error(`did not exit:\n${first.text()}`)) : c),
      );
    } finally {
      await env.cp.startApiServer();
    }
    expect(code).toBe(1);
    expect(first.text()).toContain('lost leadership; exiting so a fresh process can campaign again');

    // the restarted process waits out the dead holder's Lease, then renders what changed meanwhile
    await apply(env.rest, route(['m5']));
    const second = spawnOperator('second', []); // the default timing (15 s / 10 s / 2 s)
    await waitFor('second leads', async () => second.text().includes('"msg":"became leader"'), 30_000);
    await waitFor('m5 served', async () => (await servedModel()) === 'm5', 15_000);
    // it holds the Lease with the default duration and renews it every retry period, not in a loop
    const renewals = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const lease = await env.rest.request<LeaseRecord>('GET', leasePath('cli'));
      expect(lease.spec.holderIdentity).toMatch(/_[0-9a-f]{8}$/);
      expect(lease.spec.leaseDurationSeconds).toBe(15);
      renewals.add(lease.spec.renewTime ?? '');
      await sleep(100);
    }
    expect(renewals.size).toBeLessThanOrEqual(3); // about 3 s of samples, one renewal per 2 s
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});
