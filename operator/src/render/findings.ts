// Collects what is wrong with one object while it is rendered, then states it as two verdicts.
// An object with any problem is left out of the config and is never reported Accepted, except for
// a part it can serve without (a missing fallback provider): that part is left out, the object is
// Accepted saying so, and ResolvedRefs=False names the reference.
import type { Outcome, Problem, Verdict } from './types.ts';

export type RefReason =
  | 'RefNotFound'
  | 'RefNotAccepted'
  | 'SecretNotFound'
  | 'SecretKeyNotFound'
  /**
   * an API key or HS256 secret of the tenant's Secrets is also another tenant's (neither serves it),
   * or an older tenant accepts its JWTs with the same public key under another claim (jwt_conflicts.ts)
   */
  | 'KeyConflict'
  /** a Secret entry that cannot be an API key (a line break: a file of keys as one entry) */
  | 'InvalidApiKey'
  /** a JWKS with no key that can verify the tenant's algorithms (empty, enc-only, malformed keys) */
  | 'InvalidJWKS';

const MAX_MESSAGE = 2000;

function join(problems: Problem[]): string {
  const text = problems.map((p) => p.message).join('; ');
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 3)}...` : text;
}

export class Findings {
  readonly #invalid: Problem[] = [];
  readonly #refs: Array<Problem & { reason: RefReason }> = [];
  readonly #conflicts: Problem[] = [];
  readonly #leftOut: Array<Problem & { reason: RefReason }> = [];

  /** the spec asks for something the dataplane cannot do; `path` names the field (spec.x.y) */
  invalid(message: string, path = 'spec'): void {
    this.#invalid.push({ path, message });
  }

  /** a referenced object or Secret is missing or not usable */
  ref(reason: RefReason, message: string, path = 'spec'): void {
    this.#refs.push({ reason, message, path });
  }

  /** a reference that is not usable, in a part the object serves without (that part is left out) */
  leftOut(reason: RefReason, message: string, path: string): void {
    this.#leftOut.push({ reason, message, path });
  }

  /** the object clashes with another one (two defaults, header rules that overlap) */
  conflict(message: string, path = 'spec'): void {
    this.#conflicts.push({ path, message });
  }

  /** An independent copy (a reused render's findings may be added to, e.g. by blame). */
  copy(): Findings {
    const c = new Findings();
    c.#invalid.push(...this.#invalid);
    c.#refs.push(...this.#refs);
    c.#conflicts.push(...this.#conflicts);
    c.#leftOut.push(...this.#leftOut);
    return c;
  }

  get ok(): boolean {
    return this.#invalid.length + this.#refs.length + this.#conflicts.length === 0;
  }

  outcome(base: Omit<Outcome, 'accepted' | 'resolvedRefs' | 'problems'>): Outcome {
    const refs = [...this.#refs, ...this.#leftOut];
    const resolvedRefs: Verdict = refs.length
      ? { ok: false, reason: refs[0]?.reason ?? 'RefNotFound', message: join(refs) }
      : { ok: true, reason: 'ResolvedRefs', message: 'all references are resolved' };
    let accepted: Verdict;
    if (this.#invalid.length) accepted = { ok: false, reason: 'Invalid', message: join(this.#invalid) };
    else if (this.#conflicts.length)
      accepted = { ok: false, reason: 'Conflicted', message: join(this.#conflicts) };
    else if (this.#refs.length)
      accepted = { ok: false, reason: 'InvalidRefs', message: `not rendered: ${join(this.#refs)}` };
    else if (this.#leftOut.length)
      accepted = {
        ok: true,
        reason: 'AcceptedWithoutUnresolved',
        message: `rendered into the dataplane config as ${base.dataplaneName} without ${this.#leftOut.map((p) => p.path.replace(/\.providerRef\.name$/, '')).join(', ')}: ${join(this.#leftOut)}`,
      };
    else
      accepted = {
        ok: true,
        reason: 'Accepted',
        message: `rendered into the dataplane config as ${base.dataplaneName}`,
      };
    const problems = [...this.#invalid, ...this.#conflicts, ...refs].map(({ path, message }) => ({
      path,
      message,
    }));
    return { ...base, accepted, resolvedRefs, problems };
  }
}
