// The seam between the proxy core and tenancy/policy: who is calling, what they may use, and what
// limits admit. The core calls these in order; the policy engine implements them (policy/gate.ts
// builds its Gate).
// `openGate` serves configs without namespaces: everyone is the "default" tenant with no limits.
import type { ClientApiSpec, ClientRequest } from '../api/types.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import type { GatewayError } from '../errors.ts';
import type { Usage } from '../providers/types.ts';
import type { RecordStore } from '../responses/state.ts';
import type { EncodingName } from '../tokens/counter.ts';
import type { AnswerCap } from './cap_answer.ts';

export interface RequestHeaders {
  [name: string]: string | string[] | undefined;
}

export interface Identity {
  namespace: string;
  /** name of the API key that matched, or `jwt:<sub>` for a JWT (never the key itself): for people */
  keyName?: string;
  /**
   * the caller as per-key limits count it (policy/caller.ts): distinct for every API key, JWT subject
   * and keyless caller, whatever their names; undefined for a keyless caller
   */
  caller?: string;
}

export interface AdmitInput {
  identity: Identity;
  route: CompiledRoute;
  spec: ClientApiSpec;
  request: ClientRequest;
  /** the tokenizer the route counts with (encodingForRoute), chosen once per request by the exchange */
  encoding: EncodingName;
  /** lazily counted input tokens for the requested model */
  inputTokens: () => number;
  promptText: () => string;
}

export interface Completion {
  provider: string;
  model: string;
  cached: boolean;
  truncated: boolean;
}

export interface Admission {
  /** headers for the response (x-ratelimit-*) */
  headers: Record<string, string>;
  /** output tokens this request may still produce (stream cap), or undefined for no cap */
  outputCap: number | undefined;
  /** per choice, what a whole (non-streaming) answer is cut to if the upstream ignored max_tokens */
  answerCap?: AnswerCap;
  /** ask before each streamed delta whether the window budget still allows `tokens` more output */
  allowOutput?: (tokens: number) => boolean;
  /** cache key when the response cache applies to this request */
  cacheKey: string | undefined;
  /** reconcile reservations with real usage; called exactly once per admitted request */
  complete(usage: Usage | undefined, done: Completion | undefined): void;
}

export interface Gate {
  /** Throws GatewayError 401 when credentials are missing or unknown. */
  identify(headers: RequestHeaders): Identity | Promise<Identity>;
  /**
   * Throws GatewayError 403 when the identity may not use the model, and 404 (as for an unknown model)
   * when it may not use the route: another tenant's routes are not revealed.
   */
  authorize(identity: Identity, route: CompiledRoute, model: string): void;
  /** Whether the identity may use the route at all (undefined: every route). */
  mayUseRoute?(identity: Identity, route: CompiledRoute): boolean;
  /** Models the identity may see in /v1/models. */
  visibleModel(identity: Identity, route: CompiledRoute, model: string): boolean;
  /**
   * A request that reaches no upstream (a stored-response lookup, a token count) counts against the
   * caller's request rates only (rejects with the 429).
   */
  admitRequestRate?(identity: Identity): Promise<void>;
  /**
   * A request of this caller was refused before its admission, with this status (and the error's
   * param). A refusal for what it was (a body too large or not JSON, an invalid request, a model it
   * may not use, a policy's check) or by a token, budget or concurrency limit counts against the
   * caller's request rates all the same: such bodies were read and parsed, and a caller must not be
   * able to send them without limit. A 5xx and a spent request rate's own 429 do not count. Never
   * throws; a rate it uses up refuses the caller's next requests before their bodies
   * (refuseBeforeBody).
   */
  chargeRefused?(identity: Identity, status: number, param?: string | null): void;
  /**
   * The 429 a caller would get from admit() whatever its request (a request rate it ran out of), so
   * the intake refuses it before reading the body; undefined when it may send one.
   */
  refuseBeforeBody?(identity: Identity): GatewayError | undefined;
  /**
   * Throws GatewayError 400/429/503 when a policy rejects; may adjust request.body (clamp max tokens).
   * A gate that decides without waiting returns the admission itself (no promise per request).
   */
  admit(input: AdmitInput): Admission | Promise<Admission>;
  /** response cache (keys come from Admission.cacheKey) */
  cacheGet?(key: string): Promise<Buffer | string | undefined>;
  cacheSet?(key: string, body: Buffer | string): Promise<void>;
  /** the shared store's records (Responses API conversation state); none: this replica's memory */
  readonly records?: RecordStore;
  /** readiness details (e.g. Redis state) for /readyz */
  health?(): Record<string, unknown>;
  /** exercise what admission needs (the store's scripts) before the replica calls itself ready */
  warm?(): Promise<void>;
  close?(): Promise<void>;
}

const OPEN_ADMISSION: Admission = {
  headers: {},
  outputCap: undefined,
  cacheKey: undefined,
  complete: () => {},
};

export const openGate: Gate = {
  identify: () => ({ namespace: 'default' }),
  authorize: () => {},
  visibleModel: () => true,
  admit: () => OPEN_ADMISSION,
};
