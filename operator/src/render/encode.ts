// Fits rendered output into Kubernetes objects. A ConfigMap or Secret holds at most 1 MiB of data:
// values that would push it over are stored gzip-compressed and base64-encoded behind a marker line
// (COMPRESSED_MARKER), which the dataplane's loader and secret reader undo. If even that does not fit,
// rendering fails loudly instead of writing something the API server would refuse.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { COMPRESSED_MARKER } from '../../../dataplane/src/config/contract.ts';

/** The API server's limit on the data of one ConfigMap or Secret. */
export const OBJECT_DATA_LIMIT = 1024 * 1024;
/** Plain data up to this size is stored as is (readable with kubectl); larger is compressed. */
export const PLAIN_BUDGET = 900 * 1024;
export const CONFIG_KEY = 'config.yaml';

export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

export function compressText(text: string): string {
  return `${COMPRESSED_MARKER}\n${gzipSync(Buffer.from(text, 'utf8'), { level: 9 }).toString('base64')}\n`;
}

/**
 * The rendered config as text. JSON, not YAML: the dataplane reads it with JSON.parse (1,000 routes
 * in ~2 ms where the YAML parser takes ~220 ms of blocked event loop), and JSON is YAML, so tools and
 * file names that expect YAML keep working. Indented by 2 for people reading the ConfigMap; when the
 * indentation would push it past the plain budget (it roughly doubles the size), each list entry goes
 * on one line instead, which keeps big configs plain (greppable, one changed line per changed entry)
 * rather than compressed.
 */
export function configJson(config: unknown): string {
  const pretty = `${JSON.stringify(config, null, 2)}\n`;
  if (Buffer.byteLength(pretty) + CONFIG_KEY.length <= PLAIN_BUDGET) return pretty;
  return entryPerLine(config);
}

/** `{` newline, one line per top-level field, list fields with one line per entry. */
function entryPerLine(config: unknown): string {
  if (config === null || typeof config !== 'object' || Array.isArray(config))
    return `${JSON.stringify(config)}\n`;
  const fields = Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      const value =
        Array.isArray(v) && v.length > 0
          ? `[\n${v.map((e) => `    ${JSON.stringify(e) ?? 'null'}`).join(',\n')}\n  ]`
          : JSON.stringify(v);
      return `  ${JSON.stringify(k)}: ${value}`;
    });
  return `{\n${fields.join(',\n')}\n}\n`;
}

function size(data: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(data)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

export interface Encoded {
  data: Record<string, string>;
  /** keys whose values were compressed */
  compressed: string[];
  bytes: number;
}

/**
 * Compress the largest values first until the data fits the plain budget; fail when it cannot fit the
 * object limit at all. Small objects stay plain and greppable.
 */
export function encodeData(what: string, data: Record<string, string>): Encoded {
  const out = { ...data };
  const compressed: string[] = [];
  const bySize = Object.keys(out).sort(
    (a, b) => Buffer.byteLength(out[b] ?? '') - Buffer.byteLength(out[a] ?? ''),
  );
  for (const key of bySize) {
    if (size(out) <= PLAIN_BUDGET) break;
    const packed = compressText(out[key] ?? '');
    if (Buffer.byteLength(packed) >= Buffer.byteLength(out[key] ?? '')) continue;
    out[key] = packed;
    compressed.push(key);
  }
  const bytes = size(out);
  if (bytes > OBJECT_DATA_LIMIT)
    throw new TooLargeError(
      `${what} needs ${bytes} bytes even compressed, over the ${OBJECT_DATA_LIMIT}-byte object limit`,
    );
  return { data: out, compressed, bytes };
}

/** Stable digest of object data, stored in the content-hash annotation to skip unchanged writes. */
export function contentHash(data: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(data).sort())
    h.update(k)
      .update('\0')
      .update(data[k] ?? '')
      .update('\0');
  return h.digest('hex').slice(0, 32);
}
