// Running content filters without holding the event loop. RE2 makes every filter linear in the prompt,
// but a pure-JS RE2 walks 20-30 MB/s warm (a few MB/s cold) on patterns with alternations or counted
// repeats (docs/security.md, "Linear-time patterns"): a 10 MB prompt would hold the loop for a good
// part of a second per filter. Prompts up to
// INLINE_SCAN_CHARS are scanned inline (a few ms at worst); longer ones on one worker thread, where
// tenants take turns: each tenant has its own queue and the worker serves the queues round-robin, so
// one tenant's stream of 10 MB prompts makes another tenant wait for at most the scan that is running.
import { Worker } from 'node:worker_threads';
import type { ContentFilter } from './compile.ts';
import type { ScanReply, ScanRequest } from './filter_worker.ts';

/** Prompts up to this many characters are scanned on the event loop (worst measured: ~40 ms). */
export const INLINE_SCAN_CHARS = 64 * 1024;

const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './filter_worker.ts' : './filter_worker.js',
  import.meta.url,
);

interface Job {
  id: number;
  tenant: string;
  request: ScanRequest;
  resolve(index: number): void;
  reject(err: Error): void;
}

class ScanQueue {
  #worker: Worker | undefined;
  #running: Job | undefined;
  #nextId = 1;
  /** per-tenant queues; the Map's order is the round-robin order */
  readonly #queues = new Map<string, Job[]>();

  /** Index of the first filter matching `text`, or -1. */
  scan(tenant: string, filters: ContentFilter[], text: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const request: ScanRequest = {
        id,
        text,
        filters: filters.map((f) => ({ pattern: f.re.source, flags: f.re.flags })),
      };
      const queue = this.#queues.get(tenant);
      const job = { id, tenant, request, resolve, reject };
      if (queue) queue.push(job);
      else this.#queues.set(tenant, [job]);
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#running) return;
    const next = this.#queues.entries().next();
    if (next.done) return;
    const [tenant, queue] = next.value;
    const job = queue.shift() as Job;
    // the tenant goes to the back of the round: others are served before its next job
    this.#queues.delete(tenant);
    if (queue.length > 0) this.#queues.set(tenant, queue);
    this.#running = job;
    this.#ensureWorker().postMessage(job.request);
  }

  /** What a tenant queued while its job ran waits behind the tenants that were already waiting. */
  #toBack(tenant: string): void {
    const queue = this.#queues.get(tenant);
    if (!queue) return;
    this.#queues.delete(tenant);
    this.#queues.set(tenant, queue);
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_URL);
    worker.unref();
    worker.on('message', (reply: ScanReply) => {
      const job = this.#running;
      if (!job || job.id !== reply.id) return;
      this.#running = undefined;
      if (reply.error !== undefined) job.reject(new Error(`content filter scan failed: ${reply.error}`));
      else job.resolve(reply.match ?? -1);
      this.#toBack(job.tenant);
      this.#pump();
    });
    const fail = (err: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const job = this.#running;
      this.#running = undefined;
      // fail closed: a prompt whose filters could not run is not let through
      job?.reject(err);
      this.#pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`content filter worker exited with ${code}`)));
    this.#worker = worker;
    return worker;
  }
}

const queue = new ScanQueue();

/** The first of `filters` that matches `text`, scanning long texts off the event loop. */
export async function firstMatchingFilter(
  tenant: string,
  filters: ContentFilter[],
  text: string,
): Promise<ContentFilter | undefined> {
  if (filters.length === 0) return undefined;
  if (text.length <= INLINE_SCAN_CHARS) return filters.find((f) => f.re.test(text));
  const index = await queue.scan(tenant, filters, text);
  return index >= 0 ? filters[index] : undefined;
}
