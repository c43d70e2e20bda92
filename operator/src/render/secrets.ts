// Reading referenced Secrets and naming the files the rendered Secret holds. The config only ever
// holds {file: NAME} references; values go into the output Secret under NAME (a valid Secret key).
import { createHash } from 'node:crypto';
import type { Findings } from './findings.ts';
import type { Inventory } from './types.ts';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A Secret key is at most 253 characters, and the dataplane reads it as a file name (at most 255). */
const SECRET_KEY_MAX = 253;
/** the longest item after the prefix: a credential name (63 characters, CRD bound) */
const ITEM_MAX = 63;
const SHORT_NAME = 80;

/**
 * The prefix of every output Secret key of one object: `<kind>.<namespace>.<name>.`. A name long
 * enough to push a key past 253 characters (object names may have 253) is cut and followed by `_`
 * and a digest of the full name: `_` cannot appear in an object name, so a short form never equals
 * another object's full one. Without this, one long AIProvider or AINamespace name made the
 * preflight fail with ENAMETOOLONG and the whole render was refused (nothing written for anyone).
 */
export function secretFilePrefix(kind: string, namespace: string, name: string): string {
  const plain = `${kind}.${namespace}.${name}.`;
  if (plain.length + ITEM_MAX <= SECRET_KEY_MAX) return plain;
  return `${kind}.${namespace}.${name.slice(0, SHORT_NAME)}_${sha256Hex(`${namespace}/${name}`).slice(0, 32)}.`;
}

/** Output Secret key for one value, e.g. provider.team-a.openai.apiKey (Secret keys allow [-._a-zA-Z0-9]). */
export function secretFileName(kind: string, namespace: string, name: string, item: string): string {
  return `${secretFilePrefix(kind, namespace, name)}${item}`;
}

export class SecretReader {
  readonly #inv: Inventory;
  readonly #assume: boolean;

  constructor(inv: Inventory, assumeSecrets = false) {
    this.#inv = inv;
    this.#assume = assumeSecrets;
  }

  /** Whole Secret data, or undefined (recorded as a problem unless Secrets are assumed). */
  entries(
    namespace: string,
    name: string,
    findings: Findings,
    path: string,
  ): Record<string, string> | undefined {
    const data = this.#inv.secrets.get(`${namespace}/${name}`);
    if (!data && !this.#assume) findings.ref('SecretNotFound', `Secret "${name}" not found`, path);
    return data;
  }

  /**
   * One value. Returns the text, `null` when assumed present but unknown (offline rendering), or
   * undefined after recording why it is missing.
   */
  value(
    namespace: string,
    name: string,
    key: string,
    findings: Findings,
    path: string,
  ): string | null | undefined {
    const data = this.#inv.secrets.get(`${namespace}/${name}`);
    if (!data) {
      if (this.#assume) return null;
      findings.ref('SecretNotFound', `Secret "${name}" not found`, path);
      return undefined;
    }
    const v = data[key];
    if (v === undefined) {
      findings.ref('SecretKeyNotFound', `Secret "${name}" has no key "${key}"`, path);
      return undefined;
    }
    if (v.trim() === '') {
      findings.ref('SecretKeyNotFound', `Secret "${name}" key "${key}" is empty`, path);
      return undefined;
    }
    return v;
  }
}
