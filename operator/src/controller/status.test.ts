import { describe, expect, it } from 'vitest';
import type { Outcome } from '../render/types.ts';
import { programmedVerdict, replicaStates } from './programmed.ts';
import { buildStatus, sameStatus, transitions } from './status.ts';

const ok = { ok: true, reason: 'Accepted', message: 'rendered' };
const base: Outcome = {
  key: 'AIRoute/ns/r',
  kind: 'AIRoute',
  namespace: 'ns',
  name: 'r',
  generation: 3,
  dataplaneName: 'ns.r',
  accepted: ok,
  resolvedRefs: { ok: true, reason: 'ResolvedRefs', message: 'all references are resolved' },
  problems: [],
};
const lease = (holder: string, hash: string, renewAgoS: number, durationS = 15) => ({
  metadata: { name: `sluice-dataplane-${holder}`, annotations: { 'gateway.sluice.dev/config-hash': hash } },
  spec: {
    holderIdentity: holder,
    renewTime: new Date(Date.now() - renewAgoS * 1000).toISOString(),
    leaseDurationSeconds: durationS,
  },
});

describe('Programmed', () => {
  it('is True only when every live replica has the hash; expired leases do not count', () => {
    const reps = replicaStates([lease('a', 'h1', 1), lease('b', 'h1', 2), lease('dead', 'old', 60)]);
    expect(reps.map((r) => r.live)).toEqual([true, true, false]);
    expect(programmedVerdict('h1', reps)).toEqual({
      ok: true,
      reason: 'Programmed',
      message: 'all 2 live dataplane replicas serve config h1',
    });
    expect(programmedVerdict('h2', reps)).toEqual({
      ok: false,
      reason: 'Pending',
      message: '0 of 2 live dataplane replicas serve config h2; waiting for a (h1), b (h1)',
    });
    expect(programmedVerdict('h1', []).reason).toBe('NoReplicas');
    expect(programmedVerdict('', reps).reason).toBe('NoConfig');
  });
});

describe('status', () => {
  it('a broken route is not Accepted, not Programmed and not Ready, naming what is missing', () => {
    const broken: Outcome = {
      ...base,
      accepted: { ok: false, reason: 'InvalidRefs', message: 'not rendered: AIProvider "x" not found' },
      resolvedRefs: { ok: false, reason: 'RefNotFound', message: 'AIProvider "x" not found' },
    };
    const s = buildStatus(broken, { ok: true, reason: 'Programmed', message: 'all' }, undefined, 't0');
    expect(s.observedGeneration).toBe(3);
    expect(s.conditions?.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ['Accepted', 'False', 'InvalidRefs', 3],
      ['ResolvedRefs', 'False', 'RefNotFound', 3],
      ['Programmed', 'False', 'NotAccepted', 3],
      ['Ready', 'False', 'InvalidRefs', 3],
    ]);
    expect(s.conditions?.[1]?.message).toBe('AIProvider "x" not found');
  });

  it('keeps lastTransitionTime while a status holds and detects transitions', () => {
    const pending = { ok: false, reason: 'Pending', message: 'waiting' };
    const s1 = buildStatus(base, pending, undefined, 't0');
    const s2 = buildStatus(base, pending, s1, 't1');
    expect(sameStatus(s1, s2)).toBe(true);
    // the API server returns keys sorted: order must not matter
    const reordered = JSON.parse(
      JSON.stringify(
        s2,
        Object.keys(s2.conditions?.[0] ?? {})
          .sort()
          .concat('conditions', 'observedGeneration'),
      ),
    );
    expect(sameStatus(reordered, s1)).toBe(true);
    expect(s2.conditions?.every((c) => c.lastTransitionTime === 't0')).toBe(true);
    const s3 = buildStatus(base, { ok: true, reason: 'Programmed', message: 'all' }, s2, 't2');
    expect(sameStatus(s2, s3)).toBe(false);
    expect(transitions(s2, s3).map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Programmed', 't2'],
      ['Ready', 't2'],
    ]);
    expect(s3.conditions?.find((c) => c.type === 'Accepted')?.lastTransitionTime).toBe('t0');
    expect(
      sameStatus(
        s3,
        buildStatus({ ...base, generation: 4 }, { ok: true, reason: 'Programmed', message: 'all' }, s3),
      ),
    ).toBe(false);
  });
});
