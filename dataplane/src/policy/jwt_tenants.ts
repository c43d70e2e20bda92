// Which tenant a JWT belongs to. Each namespace with a JWT rule names a claim (its own choice) whose
// value must be the namespace's name. Picking the FIRST namespace whose claim matched, and verifying
// the token with that namespace's keys alone, let one tenant's config decide another's tokens: a
// tenant named after a value the victim's tokens carry in some claim (`aud`, say) made them fail
// (verified against the wrong keys: 401), and with a copy of the victim's public JWKS, which anyone
// may read, they verified and the victim's callers were served as that tenant (its routes, its
// providers, its budgets). So every namespace whose claim the token matches is a candidate, each is
// verified, and the token belongs to a namespace only when exactly one verifies it. Two that verify
// is a config in which two tenants accept the same token: refused (401), counted and logged, never
// settled by order. The operator keeps such configs from being rendered (operator/src/render/
// jwt_conflicts.ts: the older tenant keeps its tokens). Work per token is bounded: one map lookup per
// claim (the fewer of the token's claims and the configured claim names), then a signature
// verification only for candidates whose algorithms and issuer fit the token, at most
// MAX_JWT_CANDIDATES of them.
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import { metrics } from '../observability/metrics.ts';
import { type JwtMatcher, jwtRefusal } from './jwt.ts';

/** Most signature verifications one token may cost; a token that needs more is refused. */
export const MAX_JWT_CANDIDATES = 4;

/** Candidate sets logged per config load (each is logged once; a config bounds how many exist). */
const MAX_LOGGED = 100;

export interface JwtLog {
  warn(obj: object, msg: string): void;
}

export type JwtResolution =
  /** no configured claim of the token names a namespace */
  | { kind: 'none' }
  | { kind: 'verified'; namespace: string; payload: JWTPayload }
  /** the reason for the 401, in words of the gateway's own (never text taken from the token) */
  | { kind: 'refused'; message: string };

/** jose checks the signature before the claims: these codes say the signature held. */
const SIGNATURE_HELD = new Set(['ERR_JWT_EXPIRED', 'ERR_JWT_CLAIM_VALIDATION_FAILED']);

export class JwtTenants {
  /** claim name -> claim value (a namespace name) -> that namespace's rule */
  readonly #byClaim = new Map<string, Map<string, JwtMatcher>>();
  readonly #claimNames: string[] = [];
  readonly #log: JwtLog | undefined;
  readonly #logged = new Set<string>();

  constructor(log?: JwtLog) {
    this.#log = log;
  }

  #size = 0;

  /** how many namespaces have a JWT rule */
  get size(): number {
    return this.#size;
  }

  add(m: JwtMatcher): void {
    let byValue = this.#byClaim.get(m.claim);
    if (!byValue) {
      byValue = new Map();
      this.#byClaim.set(m.claim, byValue);
      this.#claimNames.push(m.claim);
    }
    // namespace names are unique in a config, so one claim value names one namespace
    if (!byValue.has(m.namespace)) this.#size++;
    byValue.set(m.namespace, m);
  }

  /** The rules whose claim the token's (unverified) claims match, one lookup per claim. */
  #matching(claims: JWTPayload): JwtMatcher[] {
    const own = Object.keys(claims);
    const names = own.length < this.#claimNames.length ? own : this.#claimNames;
    const out: JwtMatcher[] = [];
    for (const name of names) {
      if (!Object.hasOwn(claims, name)) continue;
      const value = claims[name];
      if (typeof value !== 'string') continue;
      const m = this.#byClaim.get(name)?.get(value);
      if (m) out.push(m);
    }
    return out;
  }

  async resolve(token: string, claims: JWTPayload): Promise<JwtResolution> {
    const matching = this.#matching(claims);
    if (matching.length === 0) return { kind: 'none' };
    const alg = tokenAlg(token);
    // a rule whose algorithms or issuer the token does not fit can never verify it: not worth a
    // signature check (jose would refuse it for the same reason)
    const fit = matching.filter(
      (m) =>
        alg !== undefined &&
        m.algorithms.includes(alg) &&
        (m.issuer === undefined || claims.iss === m.issuer),
    );
    // none fits: one verification, only for the reason jose gives (wrong issuer, algorithm); a
    // token no rule fits is never attributed, whatever it says
    if (fit.length === 0)
      return { kind: 'refused', message: `invalid token: ${await reason(matching[0], token)}` };
    if (fit.length > MAX_JWT_CANDIDATES) {
      this.#ambiguous('too_many_candidates', fit);
      return {
        kind: 'refused',
        message: `the token names more than ${MAX_JWT_CANDIDATES} namespaces this gateway knows, so it identifies none`,
      };
    }
    const results = await Promise.all(
      fit.map((m) =>
        m.verify(token).then(
          (payload) => ({ m, payload, err: undefined }),
          (err: unknown) => ({ m, payload: undefined, err }),
        ),
      ),
    );
    const verified = results.filter((r) => r.payload !== undefined);
    const one = verified[0];
    if (verified.length === 1 && one?.payload)
      return { kind: 'verified', namespace: one.m.namespace, payload: one.payload };
    if (verified.length > 1) {
      this.#ambiguous(
        'several_verify',
        verified.map((r) => r.m),
      );
      return {
        kind: 'refused',
        message:
          'the token is valid for more than one namespace, so it identifies none (the gateway never picks one)',
      };
    }
    // the most telling reason: a rule whose signature held (the token expired, a claim is wrong)
    // over one signed with other keys (another tenant's rule that merely shares a claim value)
    const told =
      results.find((r) => SIGNATURE_HELD.has(String((r.err as { code?: unknown } | null)?.code))) ??
      results[0];
    return { kind: 'refused', message: `invalid token: ${jwtRefusal(told?.err)}` };
  }

  #ambiguous(reason: 'too_many_candidates' | 'several_verify', rules: readonly JwtMatcher[]): void {
    metrics.jwtAmbiguous.inc({ reason });
    const namespaces = rules.slice(0, 10).map((m) => m.namespace);
    const key = `${reason}\0${namespaces.join('\0')}`;
    if (!this.#log || this.#logged.has(key) || this.#logged.size >= MAX_LOGGED) return;
    this.#logged.add(key);
    this.#log.warn(
      { reason, namespaces },
      reason === 'several_verify'
        ? 'a JWT verified for several namespaces and was refused: they accept the same tokens (a shared key under different claims); logged once per config load'
        : `a JWT named more than ${MAX_JWT_CANDIDATES} namespaces whose rules fit it and was refused unverified; logged once per config load`,
    );
  }
}

async function reason(m: JwtMatcher | undefined, token: string): Promise<string> {
  try {
    await m?.verify(token);
  } catch (err) {
    return jwtRefusal(err);
  }
  return 'its algorithm or issuer is not one the namespace accepts';
}

function tokenAlg(token: string): string | undefined {
  try {
    const alg = decodeProtectedHeader(token).alg;
    return typeof alg === 'string' ? alg : undefined;
  } catch {
    return undefined;
  }
}
