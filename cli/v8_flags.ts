// V8 settings the dataplane needs that NODE_OPTIONS cannot carry (Node allows only a few V8 flags
// there), set before the dataplane's modules load and before it serves anything.
//
// --no-allocation-site-pretenuring: V8 watches where objects are allocated and, when a site's objects
// were seen surviving a scavenge often, allocates that site's later objects straight in the old
// generation. Under load it sometimes takes that decision for a site of per-request objects during
// the first seconds, and keeps it: those objects then hold the rest of each request's objects through
// the next scavenges, every request promotes ~4.5 KiB instead of ~0.2, mark-compacts run ~8x as often
// and the replica spends ~1.9x the CPU per request for as long as it runs. About one start in three
// did so on the bench machine (docs/benchmarks.md, "Issue 16, session 12"); with pretenuring off, none
// of the starts measured did, and the others did not get slower.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-allocation-site-pretenuring');
