// Hostile JSON for the translator fuzz: values that are valid JSON text but wrong or dangerous once
// parsed (keys named like Object.prototype members, numbers that parse to Infinity, lone surrogates,
// deep arrays, duplicated keys), and mutations that put one at any path of a valid request body.
// Values are raw JSON text, not JS values: `1e999`, `"\ud800"` or a duplicated key cannot be written
// with JSON.stringify.
import fc from 'fast-check';

/** A field of a body: the keys and indexes from the root. */
export type JsonPath = Array<string | number>;

/** Every path in a JSON value, the root included. */
export function allPaths(v: unknown, at: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [at];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...allPaths(x, [...at, i]));
  } else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...allPaths(x, [...at, k]));
  return out;
}

const PROTO_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'toJSON',
  'hasOwnProperty',
  'then',
  'length',
];

const nested = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth);

/** Hostile JSON texts, chosen so each one has broken some JSON-handling code somewhere. */
const HOSTILE_TEXTS = [
  '{"toString":0}',
  '{"valueOf":0,"toString":0}',
  '{"toJSON":0}',
  '{"toJSON":{"toString":0}}',
  '{"then":0}',
  '{"length":1e999}',
  '{"length":-1}',
  '{"length":4294967296,"0":"x"}',
  '{"__proto__":{"toString":0,"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null}',
  '{"type":{"toString":0},"text":{"valueOf":0}}',
  '[{"toString":0}]',
  '["__proto__"]',
  '"__proto__"',
  '"constructor"',
  '"toString"',
  '"hasOwnProperty"',
  '1e999',
  '-1e999',
  '-0',
  '1e-999',
  '9007199254740993',
  '1.7976931348623157e308',
  '0.1',
  '-1',
  '4294967296',
  '"NaN"',
  '"Infinity"',
  '"-Infinity"',
  '"1e999"',
  '"0x10"',
  '"  1  "',
  '""',
  '" "',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"a\\u0000b"',
  '"\\u202e\\u2066evil"',
  '"\\ufeff"',
  '"👍🏽‍👨‍👩‍👧"',
  '"\\r\\ndata: [DONE]\\r\\n\\r\\n"',
  '"event: error\\ndata: {}\\n\\n"',
  '"%s%n%x"',
  '"</script><script>"',
  '"../../etc/passwd"',
  `"${'x'.repeat(40_000)}"`,
  `"${'€'.repeat(10_000)}"`,
  `[${Array.from({ length: 5_000 }, () => '0').join(',')}]`,
  `[${Array.from({ length: 2_000 }, () => '{}').join(',')}]`,
  `[${Array.from({ length: 2_000 }, () => '"a"').join(',')}]`,
  nested(100, ''),
  nested(100, '"x"'),
  nested(3, '{"toString":0}'),
  'null',
  'true',
  'false',
  '[]',
  '{}',
  '[null]',
  '[[]]',
  '[{}]',
];

/** A hostile value as JSON text: one of the curated ones or any JSON value fast-check makes up. */
export const hostileJson: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_TEXTS) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => JSON.stringify(s)),
  },
  {
    weight: 1,
    arbitrary: fc
      .double({ noNaN: true })
      .map((n) => (Number.isFinite(n) ? String(n) : n > 0 ? '1e999' : '-1e999')),
  },
);

/** A key to add to an object: one named like an Object.prototype member, a duplicate, or any string. */
export const hostileKey = (existing: string[], known: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(...PROTO_KEYS),
    fc.constantFrom(...known, ...PROTO_KEYS),
    existing.length ? fc.constantFrom(...existing) : fc.constant('__proto__'),
    fc.string({ maxLength: 12 }),
  );

/** One change to a body: replace the value at a path, delete it, or add a key (possibly a duplicate). */
export type Mutation =
  | { kind: 'set'; path: JsonPath; json: string }
  | { kind: 'delete'; path: JsonPath }
  | { kind: 'addKey'; path: JsonPath; key: string; json: string };

function get(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)?.[p];
  return v;
}

/** `known`: field names of the API that the base body leaves out, added with hostile values. */
export function mutationOf(base: unknown, known: string[] = []): fc.Arbitrary<Mutation> {
  const paths = allPaths(base);
  const objectPaths = paths.filter((p) => {
    const v = get(base, p);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  });
  const leafPaths = paths.filter((p) => p.length > 0);
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .record({ path: fc.constantFrom(...leafPaths), json: hostileJson })
        .map(({ path, json }) => ({ kind: 'set' as const, path, json })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...leafPaths).map((path) => ({ kind: 'delete' as const, path })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...objectPaths)
        .chain((path) =>
          fc
            .record({ key: hostileKey(Object.keys(get(base, path) as object), known), json: hostileJson })
            .map(({ key, json }) => ({ kind: 'addKey' as const, path, key, json })),
        ),
    },
  );
}

/**
 * The body's JSON text with the mutations applied. Each hostile text is put in through a unique
 * placeholder so it reaches the wire byte for byte (an added key lands after the existing ones, so a
 * duplicate is the one JSON.parse keeps).
 */
export function applyMutations(base: unknown, mutations: Mutation[]): string {
  const copy = structuredClone(base) as Record<string, unknown>;
  const texts: string[] = [];
  const placeholder = (i: number) => `\u0001hostile-${i}\u0001`;
  let root: unknown = copy;
  for (const m of mutations) {
    if (m.path.length === 0 && m.kind !== 'addKey') {
      root = m.kind === 'set' ? placeholder(texts.push(m.json) - 1) : {};
      continue;
    }
    const parent = get(root, m.kind === 'addKey' ? m.path : m.path.slice(0, -1));
    if (parent === null || typeof parent !== 'object') continue; // an earlier mutation replaced it
    const target = parent as Record<string | number, unknown>;
    if (m.kind === 'addKey') {
      if (Array.isArray(target)) continue;
      const i = texts.push(`${JSON.stringify(m.key)}:${m.json}`) - 1;
      target[placeholder(i)] = 0;
      continue;
    }
    const last = m.path.at(-1) as string | number;
    if (m.kind === 'delete') {
      if (Array.isArray(target) && typeof last === 'number') target.splice(last, 1);
      else delete target[last];
    } else target[last] = placeholder(texts.push(m.json) - 1);
  }
  let text = JSON.stringify(root);
  texts.forEach((t, i) => {
    const p = JSON.stringify(placeholder(i));
    text = text.replace(`${p}:0`, () => t).replace(p, () => t);
  });
  return text;
}
