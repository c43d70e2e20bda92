// The shape of bench/results/*.json: what was run, where, and every number the docs table shows.
import type { AllocResult } from './alloc_measure.ts';
import type { MicroResults } from './micro/run_all.ts';
import type { FixedRateSummary, ThroughputResult, Timing } from './scenarios.ts';

export interface TargetResult {
  name: string;
  description: string;
  version?: string;
  /** passed the exact-content / usage / finish_reason / [DONE] check before timing */
  verified?: boolean;
  /** why the target has no (or partial) numbers */
  error?: string;
  throughput: ThroughputResult[];
  fixedRate: FixedRateSummary[];
  /** scenarios left out and why */
  notes: string[];
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  timing: Timing;
  connections: number[];
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    kernel: string;
    node: string;
    wrk: string;
    redis?: string;
  };
  loadAverage: { before: number[]; after: number[] };
  targets: TargetResult[];
  micro?: MicroResults;
  /** bytes allocated per request, feature by feature (bench/alloc.ts) */
  alloc?: AllocResult[];
}
