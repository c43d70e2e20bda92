// Which engine runs tenant-written regular expressions (issue 13, finding 2): V8's own RegExp
// (backtracking: the reference and the danger), re2js (the pure-JS RE2 port Sluice ships), V8's
// experimental linear engine (`l` flag) and, when they are installed, the native `re2` binding and
// `re2-wasm` (neither is a dependency: `npm install --no-save re2 re2-wasm` to include them). For each:
// compile time of the filter set and milliseconds per scan of prompts of 4 KiB, 64 KiB and 1 MiB, and
// the catastrophic pattern (a+)+$ on "aaa…!" inputs.
// Run: `node bench/micro/regex_engines.ts [--quick]` prints one JSON object (docs/security.md has a run).
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import { RE2JS } from 're2js';

type Matcher = (text: string) => boolean;
type Engine = (pattern: string, caseInsensitive: boolean) => Matcher;

const require = createRequire(import.meta.url);
const quick = process.argv.includes('--quick');

const FILTERS: Array<[string, string, boolean]> = [
  ['ssn', '\\b\\d{3}-\\d{2}-\\d{4}\\b', false],
  ['card', '\\b(?:\\d[ -]*?){13,16}\\b', false],
  ['words', '\\b(password|secret|api[_ ]?key)\\b', true],
];
const SIZES = quick ? [4 * 1024, 64 * 1024] : [4 * 1024, 64 * 1024, 1024 * 1024];
const TEXT = 'The quick brown fox jumps over the lazy dog while the gateway counts every token. ';

function optional(name: string): unknown {
  try {
    return require(name);
  } catch {
    return undefined;
  }
}

function engines(): Record<string, Engine | string> {
  const out: Record<string, Engine | string> = {
    'v8-backtracking': (p, i) => {
      const re = new RegExp(p, i ? 'i' : '');
      return (s) => re.test(s);
    },
    re2js: (p, i) => {
      const re = RE2JS.compile(p, i ? RE2JS.CASE_INSENSITIVE : 0);
      return (s) => re.test(s);
    },
  };
  v8.setFlagsFromString('--enable-experimental-regexp-engine');
  out['v8-linear'] = (p, i) => {
    const re = new RegExp(p, `${i ? 'i' : ''}l`);
    return (s) => re.test(s);
  };
  const native = optional('re2') as (new (p: string, f: string) => RegExp) | undefined;
  out['re2-native'] = native
    ? (p, i) => {
        const re = new native(p, i ? 'iu' : 'u');
        return (s) => re.test(s);
      }
    : 'not installed';
  const wasm = optional('re2-wasm') as { RE2: new (p: string, f: string) => RegExp } | undefined;
  out['re2-wasm'] = wasm
    ? (p, i) => {
        const re = new wasm.RE2(p, i ? 'iu' : 'u');
        return (s) => re.test(s);
      }
    : 'not installed';
  return out;
}

function timeMs(fn: () => void, minMs = quick ? 20 : 100): number {
  let reps = 0;
  const t = performance.now();
  do {
    fn();
    reps++;
  } while (performance.now() - t < minMs && reps < 1000);
  return (performance.now() - t) / reps;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function measure(engine: Engine): Record<string, number | string> {
  const row: Record<string, number | string> = {};
  let compiled: Array<[string, Matcher]> = [];
  try {
    row.compileMs = round(
      timeMs(() => {
        compiled = FILTERS.map(([name, p, i]) => [name, engine(p, i)]);
      }, 10),
    );
  } catch (err) {
    return { error: (err as Error).message };
  }
  for (const size of SIZES) {
    const text = TEXT.repeat(Math.ceil(size / TEXT.length)).slice(0, size);
    const label = size >= 1024 * 1024 ? `${size / 1024 / 1024}MiB` : `${size / 1024}KiB`;
    for (const [name, m] of compiled) {
      try {
        row[`${name}@${label}`] = round(timeMs(() => m(text)));
      } catch (err) {
        row[`${name}@${label}`] = `error: ${(err as Error).message.slice(0, 80)}`;
      }
    }
  }
  return row;
}

/** (a+)+$ on n a's and a "!": exponential for a backtracking engine, linear for the others. */
function catastrophic(engine: Engine, name: string): Record<string, number | string> {
  const row: Record<string, number | string> = {};
  const lengths = name === 'v8-backtracking' ? [16, 20, 22] : [28, 100_000];
  for (const n of lengths) {
    try {
      const m = engine('(a+)+$', false);
      const input = `${'a'.repeat(n)}!`;
      row[`evil@${n}`] = round(timeMs(() => m(input), 1));
    } catch (err) {
      row[`evil@${n}`] = `error: ${(err as Error).message.slice(0, 80)}`;
    }
  }
  return row;
}

const results: Record<string, unknown> = { node: process.version, quick };
for (const [name, engine] of Object.entries(engines())) {
  results[name] = typeof engine === 'string' ? engine : { ...measure(engine), ...catastrophic(engine, name) };
}
console.log(JSON.stringify(results));
