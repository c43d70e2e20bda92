// Counting a large prompt with a BPE encoder takes ~0.04-0.1 ms per KB on one core (a 10 MB prompt is
// ~0.5-1 s): done inline it would freeze every other request on this replica. Prompts above
// ASYNC_MIN_CHARS are counted on a small worker_threads pool instead; smaller ones stay inline, where
// a worker round trip would cost more than it saves. bench/micro/tokenize_event_loop.ts measures it.
//
// The workers are shared by every tenant, so they are scheduled fairly (issue 13: one tenant's 10 MB
// prompts made another's 40 KB prompt wait 7.6 s behind them in a FIFO queue): each tenant has its
// own queue, tenants are served round-robin, and a job holds a worker for one SLICE_MS time slice at a
// time (tokens/bpe.ts countTokensSlice), so a tenant waits for at most one slice per other busy tenant.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SliceReply, SliceRequest } from './count_worker.ts';
import {
  countPromptTokens,
  countTokens,
  type EncodingName,
  INLINE_MAX_CHARS,
  rememberCount,
} from './counter.ts';

export const ASYNC_MIN_CHARS = INLINE_MAX_CHARS;
/** How long one job may hold a worker before the next tenant's turn. */
export const SLICE_MS = 8;

interface Job {
  id: number;
  tenant: string;
  text: string;
  encoding: Exclude<EncodingName, 'estimate'>;
  tokens: number;
  /** the worker holding this job's text once its first slice was sent */
  worker: PoolWorker | undefined;
  resolve(tokens: number): void;
}

interface PoolWorker {
  worker: Worker;
  /** the job whose slice is running, if any */
  busy: Job | undefined;
  /** jobs whose text this worker holds */
  jobs: Set<Job>;
}

// Source runs as .ts (type stripping); a tsc build emits .js next to it.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './count_worker.ts' : './count_worker.js',
  import.meta.url,
);

export class TokenPool {
  #size: number;
  readonly #workers: PoolWorker[] = [];
  /** per-tenant FIFO queues; a tenant is listed only while it has jobs */
  readonly #queues = new Map<string, Job[]>();
  /** tenants with jobs, in the order they get their next slice */
  #turns: string[] = [];
  #nextId = 1;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.#size = size;
  }

  count(text: string, encoding: EncodingName, tenant = ''): Promise<number> {
    if (encoding === 'estimate' || text.length < ASYNC_MIN_CHARS)
      return Promise.resolve(countTokens(text, encoding));
    return new Promise<number>((resolve) => {
      const job: Job = {
        id: this.#nextId++,
        tenant,
        text,
        encoding,
        tokens: 0,
        worker: undefined,
        resolve: (tokens) => {
          rememberCount(text, encoding, tokens);
          resolve(tokens);
        },
      };
      const queue = this.#queues.get(tenant);
      if (queue) queue.push(job);
      else {
        this.#queues.set(tenant, [job]);
        this.#turns.push(tenant);
      }
      this.#dispatch();
    });
  }

  /** Gives every idle worker (spawning up to the pool size) a slice of the next tenant's job. */
  #dispatch(): void {
    for (;;) {
      const pw =
        this.#workers.find((w) => !w.busy) ?? (this.#workers.length < this.#size ? this.#spawn() : undefined);
      if (!pw) return;
      const job = this.#nextJob(pw);
      if (!job) return;
      pw.busy = job;
      const msg: SliceRequest = { id: job.id, budgetMs: SLICE_MS };
      if (!job.worker) {
        job.worker = pw;
        pw.jobs.add(job);
        msg.text = job.text;
        msg.encoding = job.encoding;
      }
      pw.worker.postMessage(msg);
    }
  }

  /** Round-robin over tenants: the tenant's first job that can run on the idle `pw` (a job stays
   * on the worker holding its text). */
  #nextJob(pw: PoolWorker): Job | undefined {
    for (let i = 0; i < this.#turns.length; i++) {
      const tenant = this.#turns.shift() as string;
      this.#turns.push(tenant);
      const job = this.#queues.get(tenant)?.find((j) => j.worker === pw || j.worker === undefined);
      if (job) return job;
    }
    return undefined;
  }

  #spawn(): PoolWorker {
    const worker = new Worker(WORKER_URL);
    // Idle workers must not keep the process alive (CLI exit, test runners).
    worker.unref();
    const pw: PoolWorker = { worker, busy: undefined, jobs: new Set() };
    worker.on('message', (msg: SliceReply) => {
      const job = pw.busy;
      if (!job || job.id !== msg.id) return;
      pw.busy = undefined;
      if (msg.error !== undefined) {
        // A worker-side failure falls back to counting inline: slower for that request, never wrong.
        this.#finish(job, countTokens(job.text, job.encoding));
      } else {
        job.tokens += msg.tokens ?? 0;
        if (msg.done) this.#finish(job, job.tokens);
      }
      this.#dispatch();
    });
    worker.on('error', () => this.#retire(pw));
    worker.on('exit', () => this.#retire(pw));
    this.#workers.push(pw);
    return pw;
  }

  #finish(job: Job, tokens: number): void {
    job.worker?.jobs.delete(job);
    const queue = this.#queues.get(job.tenant);
    if (queue) {
      const i = queue.indexOf(job);
      if (i >= 0) queue.splice(i, 1);
      if (queue.length === 0) {
        this.#queues.delete(job.tenant);
        this.#turns = this.#turns.filter((t) => t !== job.tenant);
      }
    }
    job.resolve(tokens);
  }

  /** A dead worker's jobs are counted inline so no request waits forever. */
  #retire(pw: PoolWorker): void {
    const i = this.#workers.indexOf(pw);
    if (i < 0) return;
    this.#workers.splice(i, 1);
    pw.busy = undefined;
    for (const job of [...pw.jobs]) this.#finish(job, countTokens(job.text, job.encoding));
    this.#dispatch();
  }

  get workers(): number {
    return this.#workers.length;
  }

  async close(): Promise<void> {
    const all = [...this.#workers];
    this.#size = 0;
    await Promise.all(all.map((w) => w.worker.terminate()));
    for (const w of all) this.#retire(w);
    // jobs that never reached a worker
    for (const queue of [...this.#queues.values()])
      for (const job of [...queue]) this.#finish(job, countTokens(job.text, job.encoding));
  }
}

const shared = new TokenPool();

/** Prompt tokens (text + chat framing), counted off the event loop when the prompt is large. */
export async function countPromptTokensAsync(
  text: string,
  turns: number,
  encoding: EncodingName,
  /** whose turn the counting waits for: the namespace */
  tenant = '',
): Promise<number> {
  const tokens = await shared.count(text, encoding, tenant);
  return tokens + countPromptTokens('', turns, encoding);
}
