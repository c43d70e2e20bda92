// Where the bytes of a sampling heap profile (V8's HeapProfiler.startSampling, freed objects included)
// were allocated: self bytes by function and by file, for `node bench/alloc.ts --profile <row>`.
import { REPO } from './targets.ts';

export interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Self bytes by function and by file of a sampling heap profile (freed objects included). */
export function summarizeHeapProfile(head: HeapNode): {
  byFunction: [string, number][];
  byFile: [string, number][];
  total: number;
} {
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode) => {
    const f = n.callFrame;
    const url = f.url.replace(`file://${REPO}/`, '').replace(/^.*node_modules\//, 'nm:');
    const name = `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
    if (n.selfSize) {
      total += n.selfSize;
      fn.set(name, (fn.get(name) ?? 0) + n.selfSize);
      const key = url || `(${f.functionName || 'native'})`;
      file.set(key, (file.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(head);
  const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1]);
  return { byFunction: sorted(fn), byFile: sorted(file), total };
}
