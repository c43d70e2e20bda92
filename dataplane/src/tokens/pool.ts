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
  /** performance.now() when that slice was sent */
  sentAt: number;
  /** jobs whose text this worker holds */
  jobs: Set<Job>;
}

// Source runs as .ts (type stripping); a tsc build emits .js next to it.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './count_worker.ts' : './count_worker.js',
  import.meta.url,
);

/**
 * A slice is a few milliseconds of work; a worker that has not answered one in this long (a stuck or
 * starved thread) is ended and its jobs are counted inline, so no request waits on it forever.
 */
export const STALL_MS = 15_000;

export interface PoolOptions {
  /** the worker script (tests use one that never answers) */
  workerUrl?: URL;
  stallMs?: number;
}

export class TokenPool {
  #size: number;
  readonly #workerUrl: URL;
  readonly #stallMs: number;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #workers: PoolWorker[] = [];
  /** per-tenant FIFO queues; a tenant is listed only while it has jobs */
  readonly #queues = new Map<string, Job[]>();
  /** tenants with jobs, in the order they get their next slice */
  #turns: string[] = [];
  #nextId = 1;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1)), opts: PoolOptions = {}) {
    this.#size = size;
    this.#workerUrl = opts.workerUrl ?? WORKER_URL;
    this.#stallMs = opts.stallMs ?? STALL_MS;
  }

  /** Ends workers whose slice is overdue; runs only while the pool has workers. */
  #watch(): void {
    if (this.#watchdog) return;
    this.#watchdog = setInterval(
      () => {
        const now = performance.now();
        for (const pw of [...this.#workers]) {
          if (!pw.busy || now - pw.sentAt <= this.#stallMs) continue;
          void pw.worker.terminate();
          this.#retire(pw);
        }
      },
      Math.max(50, this.#stallMs / 4),
    );
    this.#watchdog.unref();
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

  /**
   * Gives every idle worker (spawning up to the pool size) a slice of the next tenant's job. Every idle
   * worker is asked, not only the first: a job stays on the worker holding its text, so the first idle
   * worker may have nothing to do while another one's job waits for its next slice (that job then
   * waited forever: a count that never resolved, seen as a hung request).
   */
  #dispatch(): void {
    for (;;) {
      // nothing queued: spawn nothing
      if (this.#turns.length === 0) return;
      let pw: PoolWorker | undefined;
      let job: Job | undefined;
      for (const w of this.#workers) {
        if (w.busy) continue;
        job = this.#nextJob(w);
        if (job) {
          pw = w;
          break;
        }
      }
      if (!job && this.#workers.length < this.#size && this.#hasUnassigned()) {
        pw = this.#spawn();
        job = this.#nextJob(pw);
      }
      if (!pw || !job) return;
      pw.busy = job;
      pw.sentAt = performance.now();
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

  /** A queued job no worker holds yet (a new worker would have something to do). */
  #hasUnassigned(): boolean {
    for (const queue of this.#queues.values()) if (queue.some((j) => j.worker === undefined)) return true;
    return false;
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
    const worker = new Worker(this.#workerUrl);
    // Idle workers must not keep the process alive (CLI exit, test runners).
    worker.unref();
    const pw: PoolWorker = { worker, busy: undefined, sentAt: 0, jobs: new Set() };
    this.#watch();
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
    if (this.#workers.length === 0 && this.#watchdog) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
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
