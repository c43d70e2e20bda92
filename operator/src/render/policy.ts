// AIPolicy -> dataplane policy entry. Scoped routes must be accepted AIRoutes in the same namespace.
import { patternProblem } from '../../../dataplane/src/config/contract.ts';
import type { AIPolicy } from '../api/aipolicy.ts';
import { Findings } from './findings.ts';
import type { Rendered } from './provider.ts';
import type { RefIndex } from './refs.ts';
import { dataplaneName, namespaceOf, type PolicyInput } from './types.ts';

export function renderPolicy(p: AIPolicy, refs: RefIndex): Rendered<PolicyInput> {
  const findings = new Findings();
  const ns = namespaceOf(p);
  const { scope, ...limits } = p.spec;
  const routes = scope?.routes?.map(
    (r, i) => refs.resolve('AIRoute', ns, r, findings, `spec.scope.routes[${i}]`) ?? '',
  );
  (limits.contentFilters ?? []).forEach((f, i) => {
    // content filters run on RE2 in the dataplane: backreferences and lookaround are refused here
    const why = patternProblem(f.pattern, f.flags);
    if (why)
      findings.invalid(
        `${why}: /${f.pattern}/${f.flags ?? ''}`,
        `spec.contentFilters[${i}].${why.startsWith('unsupported flag') ? 'flags' : 'pattern'}`,
      );
  });
  const input: PolicyInput = {
    name: dataplaneName(ns, p.metadata.name),
    // every other field has the dataplane's name and shape, so it passes through unchanged
    ...limits,
  };
  if (scope) input.scope = { ...scope, ...(routes ? { routes } : {}) };
  return { findings, input };
}
