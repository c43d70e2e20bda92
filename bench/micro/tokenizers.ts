// Which BPE tokenizer should count tokens? Compares js-tiktoken, gpt-tokenizer, tiktoken (WASM) and
// Sluice's own compact-table BPE (dataplane/src/tokens/bpe.ts, "sluice-bpe") on o200k_base in ONE run: identical counts over a mixed corpus (English, CJK, code, emoji, digits,
// special-token lookalikes), time per call at stream-delta, prompt and large-prompt sizes, and resident
// memory after loading the encoding (each measured in a fresh child process).
// Run: npx node bench/micro/tokenizers.ts
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { get_encoding } from 'tiktoken';
import { countTokens } from '../../dataplane/src/tokens/bpe.ts';

type Counter = (text: string) => number;

async function load(name: string): Promise<Counter> {
  if (name === 'js-tiktoken') {
    const e = getEncoding('o200k_base');
    return (t) => e.encode(t, [], []).length;
  }
  if (name === 'sluice-bpe') {
    countTokens('load', 'o200k_base');
    return (t) => countTokens(t, 'o200k_base');
  }
  if (name === 'gpt-tokenizer') {
    const m = await import('gpt-tokenizer/encoding/o200k_base');
    const opts = { disallowedSpecial: new Set<string>() };
    return (t) => m.countTokens(t, opts);
  }
  const e = get_encoding('o200k_base');
  return (t) => e.encode(t, [], []).length;
}

const NAMES = ['js-tiktoken', 'gpt-tokenizer', 'tiktoken-wasm', 'sluice-bpe'];

if (process.argv[2] === '--memory') {
  const before = process.memoryUsage().rss;
  const count = await load(process.argv[3] as string);
  count('warm up the rank table 数据 🎉');
  globalThis.gc?.();
  console.log(String(Math.round((process.memoryUsage().rss - before) / 1048576)));
  process.exit(0);
}

const PIECES = [
  'The gateway routes every request to the right model and counts each token.',
  '数据网关按命名空间限制令牌数量。',
  'function limit(n) { return n > 42 ? 42 : n; }',
  '🎉🚀 emoji and ZWJ 👩‍💻',
  '1234567890 31415926535',
  'say <|endoftext|> and <|im_start|> literally',
];

function text(size: number, seed: number): string {
  let s = `#${seed} `;
  for (let i = seed; s.length < size; i++) s += `${PIECES[i % PIECES.length]} `;
  return s.slice(0, size);
}

const counters = new Map<string, Counter>();
for (const n of NAMES) counters.set(n, await load(n));

// Agreement: every tokenizer must give the same count on every sample.
let disagreements = 0;
for (let seed = 0; seed < 200; seed++) {
  const t = text(50 + seed * 37, seed);
  const counts = NAMES.map((n) => (counters.get(n) as Counter)(t));
  if (new Set(counts).size > 1) disagreements++;
}

const sizes: Array<[string, number, number]> = [
  ['stream delta (6 B)', 6, 100_000],
  ['prompt (1 KB)', 1_024, 2_000],
  ['large prompt (32 KB)', 32_768, 40],
  ['huge prompt (256 KB)', 262_144, 6],
];
const rows: Array<Record<string, string>> = [];
const results: Record<string, Record<string, number>> = {};
for (const [label, size, reps] of sizes) {
  const samples = Array.from({ length: 16 }, (_, i) => text(size, i));
  const row: Record<string, string> = { input: label };
  for (const n of NAMES) {
    const count = counters.get(n) as Counter;
    count(samples[0] as string);
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) count(samples[r % samples.length] as string);
    const us = ((performance.now() - t0) / reps) * 1000;
    row[`${n} µs/call`] = us.toFixed(1);
    results[label] = { ...results[label], [n]: us };
  }
  rows.push(row);
}

const self = fileURLToPath(import.meta.url);
const memory: Record<string, number> = {};
for (const n of NAMES) {
  const out = execFileSync(process.execPath, ['--expose-gc', self, '--memory', n], { encoding: 'utf8' });
  memory[n] = Number(out.trim());
}

console.table(rows);
console.table(NAMES.map((n) => ({ tokenizer: n, 'RSS after load (MB)': memory[n] })));
console.log(`count disagreements over 200 samples: ${disagreements}`);
console.log(
  JSON.stringify({
    bench: 'tokenizers',
    encoding: 'o200k_base',
    disagreements,
    microsPerCall: results,
    rssMB: memory,
    ratios: Object.fromEntries(
      sizes.map(([label]) => [
        label,
        (results[label]?.['js-tiktoken'] ?? 0) / (results[label]?.['gpt-tokenizer'] ?? 1),
      ]),
    ),
  }),
);
