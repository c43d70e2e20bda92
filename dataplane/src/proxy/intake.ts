// How a request body gets in (issue 13 findings 4 and 8). Order matters:
//   1. the caller is identified from the headers alone (onRequest hook): credentials that match no
//      namespace get 401 before a single body byte is buffered or parsed;
//   2. the body limit is the namespace's own (limits.maxBodyBytes), never above server.bodyLimitBytes;
//      a declared Content-Length over it gets 413 at once, a chunked body when it crosses it;
//   3. a caller that ran out of a request rate gets its 429 now (policy/rate_denials.ts): a tenant at
//      its limit costs the replica headers, not the parse of every body it keeps sending;
//   4. the bytes the body will hold are taken from the replica's memory budget (503 when it is full);
//   5. only then is the body read, its nesting depth checked on the text, and parsed as JSON (with
//      fastify's prototype-poisoning checks).
// A refused body is read and thrown away, up to DISCARD_MAX_BYTES, instead of closing the connection
// under the client's upload: a client writes its whole body before it reads the answer, so a reset
// mid-upload shows up as EPIPE and the official SDKs retry the upload, never seeing the 413 or 401.
// A client that asks first (Expect: 100-continue, as curl does for large bodies) gets the 100 only
// when the body will be read, so a refused one never uploads it.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkJsonDepth } from '../api/request_guards.ts';
import type { Runtime } from '../compiled/compile.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import { BudgetHold, memoryBudget, NAMESPACE_SHARE } from './memory_budget.ts';
import type { Identity } from './policy_interface.ts';
import type { ChunkCharge } from './upstream_body.ts';

/**
 * Budget bytes per body byte: the raw bytes, their decoded string, the parsed objects and the body
 * re-serialised for the upstream are alive together at the peak (measured in docs/security.md).
 */
export const BODY_COST = 4;
/** Budget bytes per byte of a whole upstream answer: the bytes plus the translated answer. */
export const ANSWER_COST = 2;
/** A refused body is read and discarded up to this many bytes; a longer one is cut (connection reset). */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

export interface Intake {
  /** the config the request was identified with: the handler must use the same one */
  runtime: Runtime;
  identity: Identity;
  /** body byte limit for this caller */
  limit: number;
  /** this request's share of the memory budget, given back when the response is over */
  hold: BudgetHold;
}

/**
 * The intake rides on the request as a fastify request decoration (installIntake declares it, so every
 * request object is built with the slot and keeps one shape). A WeakMap keyed by the request cost
 * more per request than the lookup suggests: every set of a young key into it is an ephemeron the
 * next scavenge has to revisit (RecordEphemeronKeyWrite, ClearOldEphemerons and the table's rehashes
 * were ~0.5 µs per whole request in a `perf record` of the bench, and the floor has none of them).
 */
declare module 'fastify' {
  interface FastifyRequest {
    sluiceIntake: Intake | null;
  }
}

export function intakeOf(req: FastifyRequest): Intake | undefined {
  return req.sluiceIntake ?? undefined;
}

/** The caller: as the intake identified it (POST), else from the headers (throws 401 like identify). */
export async function callerOf(req: FastifyRequest, runtime: Runtime): Promise<Identity> {
  return req.sluiceIntake?.identity ?? (await runtime.gate.identify(req.headers));
}

/**
 * The charge of a whole upstream answer to the request's budget hold, chunk by chunk as the read
 * takes them (UpstreamBody.readAll): when the budget is full the read fails with a 503
 * SLUICE_ERR_OVERLOADED, and `refused()` tells the caller that this, not the provider, ended it.
 * Undefined when the request holds no budget share.
 */
export function answerCharge(reply: FastifyReply): { charge: ChunkCharge; refused(): boolean } | undefined {
  const hold = reply.request.sluiceIntake?.hold;
  if (!hold) return undefined;
  let refused = false;
  return {
    charge: (chunk) => {
      if (hold.take(chunk.length * ANSWER_COST)) return undefined;
      refused = true;
      return hold.refusal('upstream answer');
    },
    refused: () => refused,
  };
}

/** Per-namespace body limits, indexed once per loaded config. */
const namespaceLimits = new WeakMap<Runtime, Map<string, number>>();

export function bodyLimitFor(runtime: Runtime, namespace: string): number {
  let limits = namespaceLimits.get(runtime);
  if (!limits) {
    limits = new Map();
    for (const ns of runtime.config.namespaces)
      if (ns.limits?.maxBodyBytes !== undefined) limits.set(ns.name, ns.limits.maxBodyBytes);
    namespaceLimits.set(runtime, limits);
  }
  const global = runtime.config.server.bodyLimitBytes;
  return Math.min(global, limits.get(namespace) ?? global);
}

export function tooLarge(limit: number, namespace: string | undefined, global: number): GatewayError {
  const whose = namespace && limit < global ? `namespace '${namespace}' allows` : 'the limit is';
  return new GatewayError('SLUICE_ERR_BODY_TOO_LARGE', `request body is too large: ${whose} ${limit} bytes`);
}

/**
 * Reads and throws away what is left of a refused request body, so the answer already sent reaches a
 * client still writing it. Past `max` bytes the connection is cut: nobody waits on a 10 GB upload.
 */
export function discardBody(raw: IncomingMessage, max = DISCARD_MAX_BYTES): void {
  if (raw.complete || raw.destroyed) return;
  let seen = 0;
  raw.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > max) raw.socket?.destroy();
  });
  raw.on('error', () => {});
  raw.resume();
}

function expectsContinue(req: FastifyRequest): boolean {
  return req.headers.expect?.toLowerCase() === '100-continue';
}

/**
 * A body in a content coding (gzip, br, ...): the reader does not decode one, so it would parse
 * compressed bytes as JSON (a misleading 400) or, when the header lies, serve a body that is not what
 * it says. RFC 9110 8.4.1: such a request may be refused with 415. `identity` is no coding.
 */
function codedBody(req: FastifyRequest): boolean {
  const v = req.headers['content-encoding'];
  return v !== undefined && !/^\s*(identity\s*)?$/i.test(v);
}

function declaredLength(req: FastifyRequest): number {
  const h = req.headers['content-length'];
  return h === undefined ? Number.NaN : Number(h);
}

export interface IntakeOptions {
  runtime(): Runtime;
  /** sends err in the client API's error shape for this request (`identity`: the caller, when known) */
  fail(req: FastifyRequest, reply: FastifyReply, err: GatewayError, identity?: Identity): FastifyReply;
  /** a 404 for POST paths that no route serves: answered before identifying or reading */
  notFound(runtime: Runtime, req: FastifyRequest): GatewayError | undefined;
}

type Done = (err: Error | null, body?: unknown) => void;
type JsonParser = (req: FastifyRequest, body: string, done: Done) => void;

/** The JSON body reader: the intake's limit and budget, then fastify's own JSON parser. */
function jsonBody(parseJson: JsonParser, runtime: () => Runtime) {
  return (req: FastifyRequest, payload: IncomingMessage, done: Done): void => {
    const intake = req.sluiceIntake;
    // bodies the hook did not take in (other methods: answered 405 anyway) get the global limit
    const limit = intake?.limit ?? runtime().config.server.bodyLimitBytes;
    // a declared length was checked and paid for in the onRequest hook
    const prepaid = declaredLength(req) >= 0;
    const chunks: Buffer[] = [];
    let size = 0;
    let refused: GatewayError | undefined;
    let discarded = 0;
    // a body refused for what it is (too large, too deep, not JSON) is charged like any refused
    // request; the gate decides which count (Gate.chargeRefused: not the memory budget's 503)
    const fail = (err: Error & { statusCode?: number }) => {
      const status = err instanceof GatewayError ? err.status : (err.statusCode ?? 400);
      intake?.runtime.gate.chargeRefused?.(intake.identity, status);
      done(err);
    };
    const stop = () => {
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
    };
    const refuse = (err: GatewayError) => {
      refused = err;
      chunks.length = 0;
      intake?.hold.release();
    };
    function onData(chunk: Buffer) {
      if (refused) {
        discarded += chunk.length;
        if (discarded > DISCARD_MAX_BYTES) {
          stop();
          payload.on('error', () => {});
          fail(refused);
        }
        return;
      }
      size += chunk.length;
      if (size > limit) {
        const global = intake?.runtime.config.server.bodyLimitBytes ?? limit;
        return refuse(tooLarge(limit, intake?.identity.namespace, global));
      }
      if (!prepaid && intake && !intake.hold.take(chunk.length * BODY_COST))
        return refuse(intake.hold.refusal('request body'));
      chunks.push(chunk);
    }
    function onEnd() {
      stop();
      if (refused) return fail(refused);
      // a GET or DELETE with `content-type: application/json` and no body, as the openai Python SDK
      // sends for responses.delete(): nothing to parse, not an empty-JSON error
      if (size === 0 && req.method !== 'POST') return done(null, undefined);
      const text =
        chunks.length === 1
          ? (chunks[0] as Buffer).toString('utf8')
          : Buffer.concat(chunks, size).toString('utf8');
      chunks.length = 0;
      // the nesting depth bounds everything after the parse (api/request_guards.ts)
      try {
        checkJsonDepth(text);
      } catch (err) {
        return fail(err as GatewayError);
      }
      parseJson(req, text, (err, body) => (err ? fail(err) : done(null, body)));
    }
    function onError(err: Error & { statusCode?: number }) {
      stop();
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      done(err);
    }
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  };
}

/** Installs the identify-first hook and the bounded JSON body reader on the API server. */
export function installIntake(app: FastifyInstance, opts: IntakeOptions): void {
  app.decorateRequest('sluiceIntake', null);
  const parseJson = app.getDefaultJsonParser('error', 'error') as unknown as JsonParser;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', jsonBody(parseJson, opts.runtime));

  // callback style: a caller known from its key or headers (identify answers synchronously) costs
  // no promise here; only a JWT check waits
  app.addHook('onRequest', (req, reply, done) => {
    if (req.method !== 'POST') return done();
    const runtime = opts.runtime();
    const missing = opts.notFound(runtime, req);
    if (missing) return refuse(req, reply, missing);
    let identity: Identity | Promise<Identity>;
    try {
      identity = runtime.gate.identify(req.headers);
    } catch (err) {
      return refuse(req, reply, internal(req, err));
    }
    if (!(identity instanceof Promise)) return admitBody(req, reply, runtime, identity, done);
    identity
      .then(
        (known) => admitBody(req, reply, runtime, known, done),
        (err) => refuse(req, reply, internal(req, err)),
      )
      .catch(done);
  });

  /** The caller is known: its body limit and budget share, then the body may come. */
  function admitBody(
    req: FastifyRequest,
    reply: FastifyReply,
    runtime: Runtime,
    identity: Identity,
    done: (err?: Error) => void,
  ): void {
    if (codedBody(req)) {
      refuseCaller(
        req,
        reply,
        runtime,
        identity,
        new GatewayError(
          'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
          'the body must be plain JSON: a Content-Encoding (gzip, br, ...) is not supported; send it uncompressed',
        ),
      );
      return;
    }
    const limited = runtime.gate.refuseBeforeBody?.(identity);
    if (limited) {
      refuseCaller(req, reply, runtime, identity, limited);
      return;
    }
    const limit = bodyLimitFor(runtime, identity.namespace);
    const declared = declaredLength(req);
    if (declared > limit) {
      refuseCaller(
        req,
        reply,
        runtime,
        identity,
        tooLarge(limit, identity.namespace, runtime.config.server.bodyLimitBytes),
      );
      return;
    }
    // with several tenants, none may hold more than its share: the rest stays for the others
    const share = runtime.config.namespaces.length > 1 ? NAMESPACE_SHARE : 1;
    memoryBudget.setLimit(runtime.config.server.memoryBudgetBytes, share);
    const hold = new BudgetHold(memoryBudget, reply.raw, identity.namespace);
    if (declared > 0 && !hold.take(declared * BODY_COST)) {
      refuseCaller(req, reply, runtime, identity, hold.refusal('request body'));
      return;
    }
    req.sluiceIntake = { runtime, identity, limit, hold };
    if (expectsContinue(req)) reply.raw.writeContinue();
    done();
  }

  /** A refusal as it is; anything else is an internal error (never a reason to hang the request). */
  function internal(req: FastifyRequest, err: unknown): GatewayError {
    return isGatewayError(err)
      ? err
      : new GatewayError('SLUICE_ERR_INTERNAL', `internal error (request ${req.id})`, { cause: err });
  }

  /**
   * A refusal of an identified caller, charged to its request rates as the gate decides
   * (Gate.chargeRefused: a 415 or 413 counts, a spent rate's 429 and the memory budget's 503 do not).
   */
  function refuseCaller(
    req: FastifyRequest,
    reply: FastifyReply,
    runtime: Runtime,
    identity: Identity,
    err: GatewayError,
  ): void {
    runtime.gate.chargeRefused?.(identity, err.status, err.param);
    refuse(req, reply, err, identity);
  }

  /** Answers now (the hook's done() is not called) and discards the body the client is still sending. */
  function refuse(req: FastifyRequest, reply: FastifyReply, err: GatewayError, identity?: Identity): void {
    // Without the 100 the client may send its body or not (RFC 9110 10.1.1): not reusing the
    // connection keeps the two cases apart.
    if (expectsContinue(req)) reply.header('connection', 'close');
    discardBody(req.raw);
    opts.fail(req, reply, err, identity);
  }
}
