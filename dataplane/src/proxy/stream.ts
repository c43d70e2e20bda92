// Streaming a translated upstream response to the client with backpressure, output token caps and
// honest endings: a completed answer ends with the client format's terminator; a cap ends with
// finish_reason "length" + usage; a failure after the first byte ends with an error event, never with
// something that looks like success.
import type { ServerResponse } from 'node:http';
import type { GatewayError } from '../errors.ts';
import type { StreamEvent, StreamTranslator, Usage } from '../providers/types.ts';
import type { EncodingName } from '../tokens/counter.ts';
import { countTokens, truncateToTokens } from '../tokens/counter.ts';
import type { CancelSignal } from './cancellation.ts';

export interface StreamResult {
  /** usage as reported upstream, or counted by Sluice (estimated: true) */
  usage: Usage;
  outcome: 'complete' | 'truncated' | 'client-aborted' | 'error';
  /** what cut a truncated answer: the request's output cap or the namespace's window budget */
  truncatedBy?: 'output_cap' | 'budget';
  error?: GatewayError;
}

export interface PumpOptions {
  res: ServerResponse;
  translator: StreamTranslator;
  /** events already read while deciding whether to fall back; written first */
  pending: StreamEvent[];
  inputTokens: () => number;
  encoding: EncodingName;
  outputCap: number | undefined;
  allowOutput: ((tokens: number) => boolean) | undefined;
  abortUpstream: () => void;
  clientGone: CancelSignal;
  onFirstByte: () => void;
  /** the output text the client received, piece by piece (only for observers that record content) */
  onText?: (text: string) => void;
  /** turns a transport error (idle timeout, reset) into the documented gateway error */
  mapError: (err: unknown) => GatewayError;
  /** how long the client may take nothing before the stream is cut (the stream's idle timeout) */
  stallMs?: number;
}

/**
 * Write to the client; a promise only when the socket asked us to wait (backpressure), so the common
 * case costs no promise and no microtask per event.
 */
export function writeToClient(
  res: ServerResponse,
  data: string | Buffer,
  clientGone: CancelSignal,
  stallMs?: number,
): Promise<void> | undefined {
  if (data.length === 0) return undefined;
  if (res.write(data)) return undefined;
  // Backpressure: wait for the client to drain (or leave) before reading more from upstream. Both
  // listeners go once either fires: events.once() left the abort listener behind on every drain, so
  // a long stream to a slow client piled them up on the exchange's signal.
  if (clientGone.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    // A client that takes nothing for `stallMs` (the stream's idle timeout) is cut like an upstream
    // that sends nothing: a stream nobody reads held its provider turn and pooled connection until the
    // total timeout (10 min) while other tenants waited (test/adversarial/slow_readers.test.ts).
    const timer = stallMs === undefined ? undefined : setTimeout(() => res.destroy(), stallMs);
    const done = () => {
      if (timer) clearTimeout(timer);
      res.off('drain', done);
      res.off('close', done);
      clientGone.removeEventListener('abort', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    clientGone.addEventListener('abort', done);
  });
}

/**
 * The bytes of one upstream read's events as one write. Joining them as strings made a rope that
 * Node's chunked write flattens to measure (a copy of the whole stream's text, two bytes per character
 * once one is outside Latin-1: ~9 KiB per 20-chunk stream, the largest allocation on the stream path,
 * bench/alloc.ts); encoded into one buffer instead, each piece is copied once, as bytes, off the heap.
 */
function joinParts(parts: (string | Buffer)[]): string | Buffer {
  if (parts.length === 1) return parts[0] as string | Buffer;
  let size = 0;
  for (const p of parts) size += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? buf.write(p, at) : p.copy(buf, at);
  return buf;
}

/**
 * Read the upstream until the translator yields the first event with bytes for the client.
 * Throws if the upstream fails first, so the caller can still fall back to another backend.
 */
export async function readFirstEvents(
  translator: StreamTranslator,
  iterator: AsyncIterator<Buffer>,
): Promise<{ events: StreamEvent[]; ended: boolean }> {
  const events: StreamEvent[] = [];
  for (;;) {
    const next = await iterator.next();
    if (next.done) {
      events.push(...translator.end());
      return { events, ended: true };
    }
    events.push(...translator.push(next.value));
    if (events.some((e) => e.data.length > 0)) return { events, ended: false };
  }
}

/** How a stream ended before its upstream did: cut by a cap, or complete at a translator's word. */
type Ending = 'truncated' | 'complete';
type Step = 'more' | Ending;

export function pumpStream(
  opts: PumpOptions,
  iterator: AsyncIterator<Buffer>,
  ended: boolean,
): Promise<StreamResult> {
  return new StreamPump(opts).run(iterator, ended);
}

/**
 * One stream's pump: what was counted so far, what is queued for the client, how it ended. One object
 * per stream instead of a closure per step (the per-event work allocates nothing of its own).
 */
class StreamPump {
  readonly #o: PumpOptions;
  /** a cap applies: every text delta is counted as it passes */
  readonly #capped: boolean;
  #upstreamUsage: Usage | undefined;
  #outputTokens = 0;
  #firstByte = false;
  // Without a cap, text is only kept (not tokenized) so usage can be counted once at the end if the
  // upstream reports none; tokenizing every delta is paid only when a cap needs it.
  #uncountedText = '';
  #truncatedBy: StreamResult['truncatedBy'];
  // Bytes for the client from the events of one upstream read, written together when the read is
  // handled (or before a truncation ending): same bytes in the same order, one write instead of one
  // per event, since they arrived together anyway. One array for the whole stream, emptied per write.
  readonly #out: (string | Buffer)[] = [];

  constructor(opts: PumpOptions) {
    this.#o = opts;
    this.#capped = opts.outputCap !== undefined || opts.allowOutput !== undefined;
  }

  async run(iterator: AsyncIterator<Buffer>, ended: boolean): Promise<StreamResult> {
    const opts = this.#o;
    try {
      let step = this.#handleAll(opts.pending);
      if (typeof step !== 'string') step = await step;
      while (!ended && step === 'more') {
        if (opts.clientGone.aborted) throw opts.clientGone.reason;
        const next = await iterator.next();
        const events = next.done ? opts.translator.end() : opts.translator.push(next.value);
        ended = next.done === true;
        step = this.#handleAll(events);
        if (typeof step !== 'string') step = await step;
      }
      if (step === 'truncated') return this.#truncated();
      // the translator ended the answer (an enforced stop sequence): the rest is not read
      if (step === 'complete') opts.abortUpstream();
      return { usage: this.#finalUsage(), outcome: 'complete' };
    } catch (err) {
      opts.abortUpstream();
      if (opts.clientGone.aborted) return { usage: this.#finalUsage(), outcome: 'client-aborted' };
      const gwErr = opts.mapError(err);
      if (!opts.res.destroyed)
        await writeToClient(
          opts.res,
          opts.translator.errorEvent(gwErr),
          opts.clientGone,
          opts.stallMs,
        )?.catch(() => {});
      return { usage: this.#finalUsage(), outcome: 'error', error: gwErr };
    }
  }

  #truncated(): StreamResult {
    this.#o.abortUpstream();
    return { usage: this.#cutUsage(), outcome: 'truncated', truncatedBy: this.#truncatedBy };
  }

  /**
   * Usage of an answer Sluice cut short: what the upstream reported so far (cache splits included),
   * with the output Sluice let through.
   */
  #cutUsage(): Usage {
    return {
      ...this.#upstreamUsage,
      inputTokens: this.#upstreamUsage?.inputTokens ?? this.#o.inputTokens(),
      outputTokens: this.#outputTokens,
    };
  }

  #finalUsage(): Usage {
    const u = this.#upstreamUsage;
    if (u && (u.outputTokens > 0 || u.inputTokens > 0)) return u;
    return {
      inputTokens: this.#o.inputTokens(),
      outputTokens: this.#capped ? this.#outputTokens : countTokens(this.#uncountedText, this.#o.encoding),
      estimated: true,
    };
  }

  /**
   * 'truncated' after queueing the cap's ending (everything queued before it goes out first);
   * 'complete' after an event that ends the answer before the upstream does
   */
  #handle(ev: StreamEvent): 'more' | Ending {
    const opts = this.#o;
    if (ev.usage) this.#upstreamUsage = { ...this.#upstreamUsage, ...ev.usage };
    if (ev.text) {
      if (!this.#capped) this.#uncountedText += ev.text;
      else {
        const tokens = countTokens(ev.text, opts.encoding);
        const capLeft =
          opts.outputCap === undefined ? Number.POSITIVE_INFINITY : opts.outputCap - this.#outputTokens;
        const budgetOk = opts.allowOutput ? opts.allowOutput(tokens) : true;
        if (tokens > capLeft || !budgetOk) {
          this.#truncatedBy = budgetOk ? 'output_cap' : 'budget';
          const room = budgetOk ? capLeft : 0;
          const kept = room > 0 ? truncateToTokens(ev.text, room, opts.encoding) : '';
          if (kept) opts.onText?.(kept);
          this.#outputTokens += countTokens(kept, opts.encoding);
          const usage = this.#cutUsage();
          if (kept) this.#out.push(opts.translator.textChunk(kept, ev));
          this.#out.push(opts.translator.finish('length', usage, ev));
          return 'truncated';
        }
        this.#outputTokens += tokens;
      }
      opts.onText?.(ev.text);
    }
    if (ev.data.length > 0) {
      if (!this.#firstByte) {
        this.#firstByte = true;
        opts.onFirstByte();
      }
      this.#out.push(ev.data);
    }
    return ev.stopsUpstream ? 'complete' : 'more';
  }

  /** Handle one read's events and write their bytes; how the answer goes on. */
  #handleAll(events: StreamEvent[]): Step | Promise<Step> {
    let step: Step = 'more';
    let wait: Promise<void> | undefined;
    try {
      for (const ev of events) {
        step = this.#handle(ev);
        if (step !== 'more') break;
      }
    } finally {
      // also when an event throws: what the events before it queued still reaches the client first
      if (this.#out.length > 0) {
        const data = joinParts(this.#out);
        this.#out.length = 0;
        wait = writeToClient(this.#o.res, data, this.#o.clientGone, this.#o.stallMs);
      }
    }
    return wait ? wait.then(() => step) : step;
  }
}
