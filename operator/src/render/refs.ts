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
    const o = this.#outcomes.get(objectKey(kind, namespace, name));
    if (!o) {
      findings.ref('RefNotFound', `${kind} "${name}" not found`, path);
      return undefined;
    }
    if (!o.accepted.ok) {
      findings.ref('RefNotAccepted', `${kind} "${name}" is not accepted (${o.accepted.reason})`, path);
      return undefined;
    }
    return o.dataplaneName;
  }

  /** Accepted objects of a kind in one namespace, by dataplane name. */
  acceptedIn(kind: Kind, namespace: string): string[] {
    return this.all()
      .filter((o) => o.kind === kind && o.namespace === namespace && o.accepted.ok)
      .map((o) => o.dataplaneName);
  }
}
