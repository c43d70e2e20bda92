// Preloaded (`--import`) into a gateway the allocation benchmark starts (bench/alloc.ts); never in the
// image. V8 keeps no running total of the bytes a process allocated, so this one counts it from the
// GC's own bookkeeping: every collection reports the heap's used bytes before and after it
// (v8.GCProfiler), and what was allocated between two collections is "used before this one" minus
// "used after the last one". Summed over the collections plus the current used bytes, that is every
// byte allocated on the JS heap (young, old, large objects), whatever later died: exact to the object,
// unlike a sampling profile, and unaffected by how busy the machine is. Scavenges also report how much
// moved to the old generation (promotion: what drives mark-compacts and their pauses).
//
// It listens on 127.0.0.1 (an OS-chosen port, written to $BENCH_ALLOC_PROBE_FILE) for the bench:
//   GET  /alloc            {"allocated", "promoted", "scavenges", "markCompacts", "gcMs"} since start
//   POST /heap-prof/start  sampling heap profiler, keeping the samples of objects GC already freed
//                          (?survivors=1: only of objects that outlived a scavenge)
//   POST /heap-prof/stop   the .heapprofile JSON (allocation by call stack, for bench/alloc.ts)
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { GCProfiler, getHeapStatistics } from 'node:v8';

// The request path's metrics cannot be switched off by config; to price them, the bench names the
// gateway's compiled series.js here and its update methods become no-ops (the same module instance the
// gateway imports: ES modules are cached by URL).
const noMetrics = process.env.BENCH_ALLOC_NO_METRICS;
if (noMetrics) {
  const series = (await import(pathToFileURL(noMetrics).href)) as Record<string, { prototype: object }>;
  const noop = () => {};
  for (const [cls, methods] of [
    ['CounterFamily', ['inc']],
    ['HistogramFamily', ['observe']],
    ['LevelGauge', ['inc', 'dec']],
  ] as const) {
    const proto = series[cls]?.prototype as Record<string, unknown> | undefined;
    if (!proto) throw new Error(`${noMetrics} has no ${cls}`);
    for (const m of methods) proto[m] = noop;
  }
}

interface HeapStats {
  heapStatistics: { usedHeapSize: number };
  heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[];
}
interface GcEntry {
  gcType: string;
  cost: number;
  beforeGC: HeapStats;
  afterGC: HeapStats;
}

let profiler = new GCProfiler();
profiler.start();
let lastAfter = getHeapStatistics().used_heap_size;
const totals = { allocatedBeforeLastGc: 0, promoted: 0, scavenges: 0, markCompacts: 0, gcMs: 0 };

const oldBytes = (h: HeapStats) =>
  h.heapSpaceStatistics
    .filter((s) => s.spaceName === 'old_space' || s.spaceName === 'large_object_space')
    .reduce((sum, s) => sum + s.spaceUsedSize, 0);

/** Folds the collections since the last read into the totals and restarts the profiler. */
function read(): Record<string, number> {
  const r = profiler.stop() as unknown as { statistics: GcEntry[] };
  profiler = new GCProfiler();
  profiler.start();
  for (const s of r.statistics) {
    totals.allocatedBeforeLastGc += s.beforeGC.heapStatistics.usedHeapSize - lastAfter;
    lastAfter = s.afterGC.heapStatistics.usedHeapSize;
    totals.gcMs += s.cost / 1000;
    if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep') {
      totals.scavenges++;
      totals.promoted += Math.max(0, oldBytes(s.afterGC) - oldBytes(s.beforeGC));
    } else if (s.gcType === 'MarkSweepCompact') totals.markCompacts++;
  }
  const pending = getHeapStatistics().used_heap_size - lastAfter;
  return {
    allocated: totals.allocatedBeforeLastGc + pending,
    promoted: totals.promoted,
    scavenges: totals.scavenges,
    markCompacts: totals.markCompacts,
    gcMs: totals.gcMs,
  };
}

let session: Session | undefined;

const server = createServer((req, res) => {
  const reply = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };
  const fail = (err: unknown) => reply(500, JSON.stringify({ error: String(err) }));
  if (req.method === 'GET' && req.url === '/alloc') return reply(200, JSON.stringify(read()));
  if (req.method === 'POST' && req.url?.startsWith('/heap-prof/start')) {
    const params = new URL(req.url, 'http://x').searchParams;
    const interval = Number(params.get('interval') ?? 4096);
    // survivors=1: only objects that outlived a scavenge (promoted ones: what mark-compacts collect)
    const survivors = params.get('survivors') === '1';
    session = new Session();
    session.connect();
    session
      .post('HeapProfiler.startSampling', {
        samplingInterval: interval,
        // without these the profile shows only what is still alive: the per-request garbage is the point
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: !survivors,
      })
      .then(() => reply(200, '{}'), fail);
    return;
  }
  if (req.method === 'POST' && req.url === '/heap-prof/stop' && session) {
    const s = session;
    session = undefined;
    s.post('HeapProfiler.stopSampling').then((r) => {
      s.disconnect();
      reply(200, JSON.stringify(r.profile));
    }, fail);
    return;
  }
  reply(404, '{}');
});
// not counted as a handle that keeps the gateway alive: it must still exit on SIGTERM
server.unref();
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const file = process.env.BENCH_ALLOC_PROBE_FILE;
  if (file && typeof addr === 'object' && addr) writeFileSync(file, String(addr.port));
});
