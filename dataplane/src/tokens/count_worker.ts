// Worker thread body for tokens/pool.ts: counts BPE tokens of large prompts off the event loop.
// It uses the same counter module as the main thread, so both count identically.
import { parentPort } from 'node:worker_threads';
import { countTokens, type EncodingName } from './counter.ts';

interface Job {
  id: number;
  text: string;
  encoding: EncodingName;
}

parentPort?.on('message', (job: Job) => {
  try {
    parentPort?.postMessage({ id: job.id, tokens: countTokens(job.text, job.encoding) });
  } catch (err) {
    parentPort?.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
  }
});
