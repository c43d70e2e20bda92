// Counting a large prompt with a BPE encoder takes ~0.1 ms per KB on one core (a 256 KB prompt is
// ~20-50 ms on a busy node): done inline it would freeze every other request on this replica. Prompts above
// ASYNC_MIN_CHARS are counted on a small worker_threads pool instead; smaller ones stay inline, where
// a worker round trip would cost more than it saves. bench/micro/tokenize_event_loop.ts measures it.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { countPromptTokens, countTokens, type EncodingName, rememberCount } from './counter.ts';

export const ASYNC_MIN_CHARS = 32 * 1024;

interface Pending {
  resolve(tokens: number): void;
  text: string;
  encoding: EncodingName;
  worker: PoolWorker;
}

interface PoolWorker {
  worker: Worker;
  inflight: number;
}

// Source runs as .ts (type stripping); a tsc build emits .js next to it.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './count_worker.ts' : './count_worker.js',
  import.meta.url,
);

export class TokenPool {
  readonly #size: number;
  readonly #workers: PoolWorker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.#size = size;
  }

  #spawn(): PoolWorker {
    const worker = new Worker(WORKER_URL);
    // Idle workers must not keep the process alive (CLI exit, test runners).
    worker.unref();
    const pw: PoolWorker = { worker, inflight: 0 };
    worker.on('message', (msg: { id: number; tokens?: number; error?: string }) => {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      pw.inflight--;
      // A worker-side failure falls back to counting inline: slower for that request, never wrong.
      p.resolve(msg.tokens ?? countTokens(p.text, p.encoding));
    });
    worker.on('error', () => this.#retire(pw));
    worker.on('exit', () => this.#retire(pw));
    this.#workers.push(pw);
    return pw;
  }

  /** A dead worker's jobs are counted inline so no request waits forever. */
  #retire(pw: PoolWorker): void {
    const i = this.#workers.indexOf(pw);
    if (i >= 0) this.#workers.splice(i, 1);
    for (const [id, p] of this.#pending) {
      if (p.worker !== pw) continue;
      this.#pending.delete(id);
      p.resolve(countTokens(p.text, p.encoding));
    }
  }

  #pick(): PoolWorker {
    const idle = this.#workers.find((w) => w.inflight === 0);
    if (idle) return idle;
    if (this.#workers.length < this.#size) return this.#spawn();
    return this.#workers.reduce((a, b) => (b.inflight < a.inflight ? b : a));
  }

  count(text: string, encoding: EncodingName): Promise<number> {
    if (encoding === 'estimate' || text.length < ASYNC_MIN_CHARS)
      return Promise.resolve(countTokens(text, encoding));
    const pw = this.#pick();
    const id = this.#nextId++;
    pw.inflight++;
    return new Promise<number>((resolve) => {
      this.#pending.set(id, {
        resolve: (tokens) => {
          rememberCount(text, encoding, tokens);
          resolve(tokens);
        },
        text,
        encoding,
        worker: pw,
      });
      pw.worker.postMessage({ id, text, encoding });
    });
  }

  get workers(): number {
    return this.#workers.length;
  }

  async close(): Promise<void> {
    const all = this.#workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate()));
    for (const w of all) this.#retire(w);
  }
}

const shared = new TokenPool();

/** Prompt tokens (text + chat framing), counted off the event loop when the prompt is large. */
export async function countPromptTokensAsync(
  text: string,
  turns: number,
  encoding: EncodingName,
): Promise<number> {
  const tokens = await shared.count(text, encoding);
  return tokens + countPromptTokens('', turns, encoding);
}
