// Which objects ended up accepted, so later kinds can resolve references to earlier ones
// (route -> providers, policy -> routes, namespace -> routes and policies).
import type { Findings } from './findings.ts';
import { type Kind, type Outcome, objectKey } from './types.ts';

export class RefIndex {
  readonly #outcomes = new Map<string, Outcome>();

  add(o: Outcome): void {
    this.#outcomes.set(o.key, o);
  }

  get(key: string): Outcome | undefined {
    return this.#outcomes.get(key);
  }

  all(): Outcome[] {
    return [...this.#outcomes.values()];
  }

  /** Resolve a same-namespace reference; records the problem and returns undefined when unusable. */
  resolve(kind: Kind, namespace: string, name: string, findings: Findings, path: string): string | undefined {
    const r = this.check(kind, namespace, name);
    if ('problem' in r) {
      findings.ref(r.reason, r.problem, path);
      return undefined;
    }
    return r.dataplaneName;
  }

  /** The dataplane name of a usable same-namespace object, or why it is not usable. */
  check(
    kind: Kind,
    namespace: string,
    name: string,
  ): { dataplaneName: string } | { reason: 'RefNotFound' | 'RefNotAccepted'; problem: string } {
    const o = this.#outcomes.get(objectKey(kind, namespace, name));
    if (!o) return { reason: 'RefNotFound', problem: `${kind} "${name}" not found` };
    if (!o.accepted.ok)
      return {
        reason: 'RefNotAccepted',
        problem: `${kind} "${name}" is not accepted (${o.accepted.reason})`,
      };
    return { dataplaneName: o.dataplaneName };
  }

  /** Accepted objects of a kind in one namespace, by dataplane name. */
  acceptedIn(kind: Kind, namespace: string): string[] {
    return this.all()
      .filter((o) => o.kind === kind && o.namespace === namespace && o.accepted.ok)
      .map((o) => o.dataplaneName);
  }
}
