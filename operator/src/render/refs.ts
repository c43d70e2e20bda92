// Which objects ended up accepted, so later kinds can resolve references to earlier ones
// (route -> providers, policy -> routes, namespace -> routes and policies).
import type { Findings } from './findings.ts';
import { type Kind, type Outcome, objectKey } from './types.ts';

/** What a reference resolves to, as far as a render that read it can tell (see `recording`). */
function signature(o: Outcome | undefined): string {
  return o ? `${o.accepted.ok}\0${o.accepted.reason}\0${o.dataplaneName}` : '';
}

export class RefIndex {
  readonly #outcomes = new Map<string, Outcome>();
  readonly #acceptedIn = new Map<string, string[]>();
  /** references checked while recording: object key -> signature */
  #reads: Array<[string, string]> | undefined;

  /** Run `render` and return, with its result, every reference it checked and what it found. */
  recording<T>(render: () => T): { value: T; reads: Array<[string, string]> } {
    const reads: Array<[string, string]> = [];
    this.#reads = reads;
    try {
      return { value: render(), reads };
    } finally {
      this.#reads = undefined;
    }
  }

  /** Do these references still resolve as they did when they were recorded? */
  unchanged(reads: ReadonlyArray<[string, string]>): boolean {
    return reads.every(([key, sig]) => signature(this.#outcomes.get(key)) === sig);
  }

  add(o: Outcome): void {
    this.#outcomes.set(o.key, o);
    this.#acceptedIn.clear();
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
    const key = objectKey(kind, namespace, name);
    const o = this.#outcomes.get(key);
    this.#reads?.push([key, signature(o)]);
    if (!o) return { reason: 'RefNotFound', problem: `${kind} "${name}" not found` };
    if (!o.accepted.ok)
      return {
        reason: 'RefNotAccepted',
        problem: `${kind} "${name}" is not accepted (${o.accepted.reason})`,
      };
    return { dataplaneName: o.dataplaneName };
  }

  /**
   * Accepted objects of a kind in one namespace, by dataplane name. Every tenant of a namespace asks
   * for the same list once all routes are in: it is built once (until the next add).
   */
  acceptedIn(kind: Kind, namespace: string): string[] {
    const key = `${kind}/${namespace}`;
    let names = this.#acceptedIn.get(key);
    if (!names) {
      names = this.all()
        .filter((o) => o.kind === kind && o.namespace === namespace && o.accepted.ok)
        .map((o) => o.dataplaneName);
      this.#acceptedIn.set(key, names);
    }
    return [...names];
  }
}
