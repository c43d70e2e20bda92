// Desired status of one object from the renderer's verdicts and the Programmed verdict. Conditions
// keep their lastTransitionTime while their status holds, and carry the generation they describe.
import type { Condition, ConditionType, Status, Summary } from '../api/common.ts';
import type { Outcome, Verdict } from '../render/types.ts';

function cond(type: ConditionType | 'Suspended', v: Verdict, generation: number, now: string): Condition {
  return {
    type,
    status: v.ok ? 'True' : 'False',
    observedGeneration: generation,
    lastTransitionTime: now,
    reason: v.reason,
    message: v.message,
  };
}

export function desiredVerdicts(outcome: Outcome, programmed: Verdict): Record<ConditionType, Verdict> {
  // a generation that is not accepted is never Programmed, whatever the replicas serve
  const prog: Verdict =
    outcome.accepted.ok || !programmed.ok
      ? programmed
      : { ok: false, reason: 'NotAccepted', message: 'not part of the rendered config (see Accepted)' };
  const failing = [outcome.accepted, outcome.resolvedRefs, prog].find((v) => !v.ok);
  const ready: Verdict = failing
    ? { ok: false, reason: failing.reason, message: failing.message }
    : {
        ok: true,
        reason: 'Ready',
        message: 'accepted, references resolved and served by every live replica',
      };
  return { Accepted: outcome.accepted, ResolvedRefs: outcome.resolvedRefs, Programmed: prog, Ready: ready };
}

export function buildStatus(
  outcome: Outcome,
  programmed: Verdict,
  existing: Status | undefined,
  now = new Date().toISOString(),
  summary?: Summary,
): Status {
  const verdicts = desiredVerdicts(outcome, programmed);
  const before = new Map((existing?.conditions ?? []).map((c) => [c.type, c]));
  const conditions = (Object.keys(verdicts) as ConditionType[]).map((type) => {
    const next = cond(type, verdicts[type], outcome.generation, now);
    const prev = before.get(type);
    if (prev && prev.status === next.status) next.lastTransitionTime = prev.lastTransitionTime;
    return next;
  });
  // the degrade switch: present while on (kubectl get shows why the traffic moved)
  if (outcome.suspended) {
    const next = cond(
      'Suspended',
      { ok: true, reason: 'Suspended', message: outcome.suspended },
      outcome.generation,
      now,
    );
    const prev = before.get('Suspended');
    if (prev && prev.status === next.status) next.lastTransitionTime = prev.lastTransitionTime;
    conditions.push(next);
  }
  return { observedGeneration: outcome.generation, conditions, ...(summary ? { summary } : {}) };
}

/** Equal apart from timestamps (and key order, which the API server does not keep): no write needed. */
export function sameStatus(a: Status | undefined, b: Status): boolean {
  if (!a || a.observedGeneration !== b.observedGeneration) return false;
  const canon = (s: Status) =>
    JSON.stringify(
      (s.conditions ?? [])
        .map((c) => [c.type, c.status, c.observedGeneration, c.reason, c.message])
        .sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)),
    );
  return canon(a) === canon(b) && sameSummary(a.summary, b.summary);
}

function sameSummary(a: Summary | undefined, b: Summary | undefined): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]) as Set<keyof Summary>;
  for (const k of keys) if ((a?.[k] ?? '') !== (b?.[k] ?? '')) return false;
  return true;
}

/** Conditions whose status changed (for Events). */
export function transitions(before: Status | undefined, after: Status): Condition[] {
  const prev = new Map((before?.conditions ?? []).map((c) => [c.type, c]));
  return (after.conditions ?? []).filter(
    (c) => prev.get(c.type)?.status !== c.status || prev.get(c.type)?.reason !== c.reason,
  );
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/**
 * The Events a status change is worth: only what a person acts on. Accepted or ResolvedRefs turning
 * False (or False for a new reason) is a Warning; their recovery from False is a Normal Event.
 * Programmed and Ready never raise Events: they follow rollouts and replica Leases, and one Event per
 * object per rollout is noise (kubectl describe shows the conditions, and the condition's
 * lastTransitionTime dates the change). A new object that is accepted at once raises none either.
 */
export function eventsFor(before: Status | undefined, after: Status): EventSpec[] {
  const prev = new Map((before?.conditions ?? []).map((c) => [c.type, c]));
  const out: EventSpec[] = [];
  for (const c of after.conditions ?? []) {
    if (c.type !== 'Accepted' && c.type !== 'ResolvedRefs') continue;
    const p = prev.get(c.type);
    const message = `${c.type}=${c.status}: ${c.message}`;
    if (c.status === 'False' && (p?.status !== 'False' || p.reason !== c.reason))
      out.push({ type: 'Warning', reason: c.reason, message });
    else if (c.status === 'True' && p?.status === 'False')
      out.push({ type: 'Normal', reason: c.reason, message });
  }
  return out;
}
