// Worker thread body for policy/content_scan.ts: runs a policy's content filters (RE2, linear time)
// over a large prompt off the event loop. Compiled filters are kept per pattern, so a worker compiles
// each configured pattern once.
import { parentPort } from 'node:worker_threads';
import { compilePattern, type LinearPattern } from '../compiled/patterns.ts';

export interface ScanRequest {
  id: number;
  text: string;
  filters: Array<{ pattern: string; flags: string }>;
}

export interface ScanReply {
  id: number;
  /** index of the first filter that matches, -1 for none */
  match?: number;
  error?: string;
}

/** Patterns come from the loaded configs: bounded by what operators wrote, reset if it grows large. */
const compiled = new Map<string, LinearPattern>();
const MAX_COMPILED = 10_000;

function pattern(source: string, flags: string): LinearPattern {
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (!re) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    re = compilePattern(source, flags);
    compiled.set(key, re);
  }
  return re;
}

parentPort?.on('message', (req: ScanRequest) => {
  let reply: ScanReply;
  try {
    reply = { id: req.id, match: req.filters.findIndex((f) => pattern(f.pattern, f.flags).test(req.text)) };
  } catch (err) {
    reply = { id: req.id, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort?.postMessage(reply);
});
