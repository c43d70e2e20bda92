// Worker thread body for tokens/pool.ts: counts BPE tokens of large prompts off the event loop, one
// time slice per message, so the pool can serve tenants in turn. A job's text is sent once, with its
// first slice, and kept here (with its cursor) until its last slice.
// It uses the same counting code as the main thread, so both count identically.
import { parentPort } from 'node:worker_threads';
import { type BpeEncodingName, countTokensSlice, type SliceCursor } from './bpe.ts';

/** One slice of job `id`: the text and encoding come with its first slice only. */
export interface SliceRequest {
  id: number;
  text?: string;
  encoding?: BpeEncodingName;
  budgetMs: number;
}

export interface SliceReply {
  id: number;
  /** tokens counted in this slice */
  tokens?: number;
  done?: boolean;
  error?: string;
}

interface Job {
  text: string;
  encoding: BpeEncodingName;
  cursor: SliceCursor;
}

const jobs = new Map<number, Job>();

parentPort?.on('message', (msg: SliceRequest) => {
  try {
    if (msg.text !== undefined && msg.encoding !== undefined)
      jobs.set(msg.id, { text: msg.text, encoding: msg.encoding, cursor: { pos: 0, pieceEnd: 0 } });
    const job = jobs.get(msg.id);
    if (!job) throw new Error(`unknown counting job ${msg.id}`);
    const tokens = countTokensSlice(job.text, job.encoding, job.cursor, msg.budgetMs);
    const done = job.cursor.pos >= job.text.length;
    if (done) jobs.delete(msg.id);
    parentPort?.postMessage({ id: msg.id, tokens, done } satisfies SliceReply);
  } catch (err) {
    jobs.delete(msg.id);
    parentPort?.postMessage({
      id: msg.id,
      error: err instanceof Error ? err.message : String(err),
    } satisfies SliceReply);
  }
});
