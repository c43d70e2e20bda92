import { describe, expect, it } from 'vitest';
import type { Outcome } from '../render/types.ts';
import { liveReplicas, objectProgrammed, replicaStates } from './programmed.ts';
import { buildStatus, eventsFor, sameStatus } from './status.ts';

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
const lease = (holder: string, revision: string | undefined, renewAgoS: number, durationS = 15) => ({
  metadata: {
    name: `sluice-dataplane-${holder}`,
    annotations: {
      'gateway.sluice.dev/config-hash': 'h',
      ...(revision === undefined ? {} : { 'gateway.sluice.dev/config-revision': revision }),
    },
  },
  spec: {
    holderIdentity: holder,
    renewTime: new Date(Date.now() - renewAgoS * 1000).toISOString(),
    leaseDurationSeconds: durationS,
  },
});

describe('Programmed, per object', () => {
  it('is True only when every live replica serves a revision at or past the generation; expired leases do not count', () => {
    const reps = replicaStates([lease('a', '7', 1), lease('b', '5', 2), lease('dead', '1', 60)]);
    expect(reps.map((r) => [r.replica, r.revision, r.live])).toEqual([
      ['a', 7, true],
      ['b', 5, true],
      ['dead', 1, false],
    ]);
    const live = liveReplicas(reps);
    // generation 2 arrived in revision 5: both serve it
    expect(objectProgrammed(2, 5, live)).toEqual({
      ok: true,
      reason: 'Programmed',
      message: 'every live dataplane replica serves generation 2',
    });
    // generation 3 arrived in revision 6: b (at 5) does not serve it yet
    expect(objectProgrammed(3, 6, live)).toEqual({
      ok: false,
      reason: 'Pending',
      message: 'generation 3 is in config revision 6; waiting for b (revision 5)',
    });
    expect(objectProgrammed(3, 6, []).reason).toBe('NoReplicas');
  });

  it('a replica without a revision (a config not rendered by an operator) serves no object', () => {
    const live = liveReplicas(replicaStates([lease('a', undefined, 1), lease('b', 'x1', 1)]));
    expect(live.map((r) => r.revision)).toEqual([undefined, undefined]);
    expect(objectProgrammed(1, 1, live).message).toBe(
      'generation 1 is in config revision 1; waiting for a (revision none), b (revision none)',
    );
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
    expect(s3.conditions?.find((c) => c.type === 'Accepted')?.lastTransitionTime).toBe('t0');
    expect(
      sameStatus(
        s3,
        buildStatus({ ...base, generation: 4 }, { ok: true, reason: 'Programmed', message: 'all' }, s3),
      ),
    ).toBe(false);
  });

  it('raises Events only when Accepted or ResolvedRefs turn False or recover, never for Programmed', () => {
    const programmed = { ok: true, reason: 'Programmed', message: 'all' };
    const pending = { ok: false, reason: 'Pending', message: 'waiting' };
    const fresh = buildStatus(base, pending, undefined, 't0');
    // a new object that is accepted at once: no Event; Pending -> Programmed: no Event
    expect(eventsFor(undefined, fresh)).toEqual([]);
    const served = buildStatus(base, programmed, fresh, 't1');
    expect(eventsFor(fresh, served)).toEqual([]);
    const bad: Outcome = {
      ...base,
      generation: 4,
      accepted: { ok: false, reason: 'InvalidRefs', message: 'AIProvider "x" not found' },
      resolvedRefs: { ok: false, reason: 'RefNotFound', message: 'AIProvider "x" not found' },
    };
    const broken = buildStatus(bad, programmed, served, 't2');
    expect(eventsFor(served, broken)).toEqual([
      { type: 'Warning', reason: 'InvalidRefs', message: 'Accepted=False: AIProvider "x" not found' },
      { type: 'Warning', reason: 'RefNotFound', message: 'ResolvedRefs=False: AIProvider "x" not found' },
    ]);
    // still broken for the same reason: nothing new to say
    expect(eventsFor(broken, buildStatus(bad, pending, broken, 't3'))).toEqual([]);
    const fixed = buildStatus({ ...base, generation: 5 }, pending, broken, 't4');
    expect(eventsFor(broken, fixed).map((e) => [e.type, e.reason])).toEqual([
      ['Normal', 'Accepted'],
      ['Normal', 'ResolvedRefs'],
    ]);
  });
});
