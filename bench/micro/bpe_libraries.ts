// Tokenizer libraries on npm, same text, same encoding (o200k_base), one process: js-tiktoken (what
// Sluice uses), gpt-tokenizer (pure JS) and tiktoken (Rust compiled to WASM). For 1 KB, 32 KB and
// 256 KB prompts: throughput (MB/s) and the time of one call — a synchronous call blocks the event
// loop (every other request on the replica) for exactly that long. Token counts must agree, or the
// comparison is void. Run: `node bench/micro/bpe_libraries.ts [--quick]` prints one JSON object.
import { countTokens as gptCount } from 'gpt-tokenizer/encoding/o200k_base';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import { round } from '../stats.ts';

export interface BpeRun {
  library: string;
  sizeKB: number;
  tokens: number;
  mbPerSec: number;
  /** ms one call takes = how long it blocks the event loop when run inline */
  msPerCall: number;
  /** slowest single call seen */
  maxMsPerCall: number;
}

export interface BpeResult {
  encoding: 'o200k_base';
  runs: BpeRun[];
  /** a library whose count differs from js-tiktoken's on a size (empty when all agree) */
  mismatches: string[];
}

/**
 * Deterministic mixed prompt from a seeded generator: prose of made-up words (so no library is helped by
 * a cache of repeated pre-tokens more than real text would), code, numbers, JSON and runs of Chinese.
 */
export function promptText(bytes: number, seed = 1): string {
  let x = seed * 2654435761;
  const rand = (n: number) => {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    return x % n;
  };
  const syl = [
    'ga',
    'te',
    'way',
    'to',
    'ken',
    'lim',
    'it',
    'stre',
    'am',
    'bud',
    'get',
    'ro',
    'ute',
    'pol',
    'icy',
    'na',
    'mes',
    'pa',
    'ce',
    'qu',
    'ota',
  ];
  const cjk = '限流与配额在每个命名空间内独立计算请求令牌预算超出时返回错误并截断流式输出';
  const word = () => Array.from({ length: 1 + rand(3) }, () => syl[rand(syl.length)]).join('');
  let s = '';
  while (Buffer.byteLength(s) < bytes) {
    const k = rand(10);
    if (k < 6) s += ` ${word()}`;
    else if (k === 6) s += `, ${rand(100_000)}`;
    else if (k === 7) s += ` fn_${word()}(${word()}) { return ${word()}.${word()}; }`;
    else if (k === 8) s += ` {"${word()}":"${word()} ${word()}"}`;
    else s += Array.from({ length: 4 + rand(12) }, () => cjk[rand(cjk.length)]).join('');
  }
  while (Buffer.byteLength(s) > bytes) s = s.slice(0, -1);
  return s;
}

type Counter = (text: string) => number;

function libraries(): Array<{ name: string; count: Counter; close?: () => void }> {
  const jst = getEncoding('o200k_base');
  const wasm = get_encoding('o200k_base');
  return [
    { name: 'js-tiktoken', count: (t) => jst.encode(t).length },
    { name: 'gpt-tokenizer', count: (t) => gptCount(t) },
    { name: 'tiktoken (wasm)', count: (t) => wasm.encode_ordinary(t).length, close: () => wasm.free() },
  ];
}

function time(
  count: Counter,
  texts: string[],
  budgetMs: number,
): { msPerCall: number; max: number; calls: number } {
  let calls = 0;
  let max = 0;
  const start = performance.now();
  while (performance.now() - start < budgetMs || calls < 3) {
    const t = performance.now();
    count(texts[calls % texts.length] as string);
    max = Math.max(max, performance.now() - t);
    calls++;
  }
  return { msPerCall: (performance.now() - start) / calls, max, calls };
}

export function runBpe(quick: boolean): BpeResult {
  const sizes = [1, 32, 256];
  const runs: BpeRun[] = [];
  const mismatches: string[] = [];
  const libs = libraries();
  for (const kb of sizes) {
    // distinct texts per call so no library is helped by a cache of the exact string
    const texts = Array.from({ length: 8 }, (_, i) => promptText(kb * 1024, i + 1));
    const reference = libs[0]?.count(texts[0] as string) ?? 0;
    for (const lib of libs) {
      const tokens = lib.count(texts[0] as string);
      if (tokens !== reference)
        mismatches.push(`${lib.name} ${kb} KB: ${tokens} tokens vs js-tiktoken ${reference}`);
      time(lib.count, texts, quick ? 20 : 200); // warm-up
      const r = time(lib.count, texts, quick ? 100 : 1_000);
      runs.push({
        library: lib.name,
        sizeKB: kb,
        tokens,
        mbPerSec: round(kb / 1024 / (r.msPerCall / 1000), 2),
        msPerCall: round(r.msPerCall, 3),
        maxMsPerCall: round(r.max, 3),
      });
    }
  }
  for (const lib of libs) lib.close?.();
  return { encoding: 'o200k_base', runs, mismatches };
}

if (import.meta.main) {
  process.stdout.write(`${JSON.stringify(runBpe(process.argv.includes('--quick')))}\n`);
}
