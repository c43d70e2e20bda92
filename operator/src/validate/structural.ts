// Offline structural validation of an object against a CRD's OpenAPI v3 schema, the way the API server
// does it: types, required fields, enums, bounds, patterns, list uniqueness, unknown fields, and
// defaults applied. Messages follow the API server's wording so CI output reads like kubectl's.
import type { JSONSchemaProps } from '../api/schema_dsl.ts';

export interface FieldIssue {
  /** '' when the message itself names the field (unknown fields) or no field is to blame */
  path: string;
  message: string;
}

/**
 * Like the API server, CEL rules are skipped when a structural error could make them meaningless:
 * a wrong type, an unsupported enum value or a missing required field.
 */
export function isBlocking(issue: FieldIssue): boolean {
  return /^(Invalid value: .* must be of type |Unsupported value: |Required value$)/.test(issue.message);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function show(v: unknown): string {
  return typeof v === 'string'
    ? JSON.stringify(v)
    : typeof v === 'object'
      ? JSON.stringify(typeOf(v))
      : String(v);
}

function typeMatches(expected: JSONSchemaProps['type'], v: unknown): boolean {
  const t = typeOf(v);
  if (expected === 'number') return t === 'number' || t === 'integer';
  return t === expected;
}

/** Validate and default `value` in place of its parent; returns the defaulted value. */
export function checkStructure(
  value: unknown,
  schema: JSONSchemaProps,
  path: string,
  issues: FieldIssue[],
): unknown {
  if (schema.type && !typeMatches(schema.type, value)) {
    issues.push({
      path,
      message: `Invalid value: ${show(value)}: ${path} in body must be of type ${schema.type}: ${JSON.stringify(typeOf(value))}`,
    });
    return value;
  }
  if (typeof value === 'string') checkString(value, schema, path, issues);
  else if (typeof value === 'number') checkNumber(value, schema, path, issues);
  else if (Array.isArray(value)) return checkArray(value, schema, path, issues);
  else if (value && typeof value === 'object')
    return checkObject(value as Record<string, unknown>, schema, path, issues);
  return value;
}

function checkString(v: string, s: JSONSchemaProps, path: string, issues: FieldIssue[]): void {
  if (s.enum && !s.enum.includes(v)) {
    issues.push({
      path,
      message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    });
  }
  const chars = [...v].length;
  if (s.maxLength !== undefined && chars > s.maxLength)
    issues.push({ path, message: `Too long: may not be more than ${s.maxLength} bytes` });
  if (s.minLength !== undefined && chars < s.minLength)
    issues.push({
      path,
      message: `Invalid value: ${show(v)}: ${path} in body should be at least ${s.minLength} chars long`,
    });
  if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v))
    issues.push({ path, message: `Invalid value: ${show(v)}: ${path} in body should match '${s.pattern}'` });
  if (s.format === 'date-time' && Number.isNaN(Date.parse(v)))
    issues.push({
      path,
      message: `Invalid value: ${show(v)}: ${path} in body must be of type date-time: ${show(v)}`,
    });
}

function checkNumber(v: number, s: JSONSchemaProps, path: string, issues: FieldIssue[]): void {
  if (s.minimum !== undefined) {
    if (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)
      issues.push({
        path,
        message: `Invalid value: ${v}: ${path} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`,
      });
  }
  if (s.maximum !== undefined && v > s.maximum)
    issues.push({
      path,
      message: `Invalid value: ${v}: ${path} in body should be less than or equal to ${s.maximum}`,
    });
}

function checkArray(v: unknown[], s: JSONSchemaProps, path: string, issues: FieldIssue[]): unknown[] {
  if (s.maxItems !== undefined && v.length > s.maxItems)
    issues.push({ path, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
  if (s.minItems !== undefined && v.length < s.minItems)
    issues.push({
      path,
      message: `Invalid value: ${v.length}: ${path} in body should have at least ${s.minItems} items`,
    });
  const out = s.items
    ? v.map((item, i) => checkStructure(item, s.items as JSONSchemaProps, `${path}[${i}]`, issues))
    : v;
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'set' || listType === 'map') {
    const keyOf = (item: unknown) =>
      listType === 'map' && item && typeof item === 'object'
        ? JSON.stringify(
            (s['x-kubernetes-list-map-keys'] ?? []).map((k) => (item as Record<string, unknown>)[k]),
          )
        : JSON.stringify(item);
    const seen = new Set<string>();
    out.forEach((item, i) => {
      const k = keyOf(item);
      if (seen.has(k))
        issues.push({ path: `${path}[${i}]`, message: `Duplicate value: ${describeItem(item, s)}` });
      seen.add(k);
    });
  }
  return out;
}

function describeItem(item: unknown, s: JSONSchemaProps): string {
  if (s['x-kubernetes-list-type'] !== 'map' || !item || typeof item !== 'object') return JSON.stringify(item);
  // the API server prints the key fields as a Go map: sorted by name
  const keys: Record<string, unknown> = {};
  for (const k of [...(s['x-kubernetes-list-map-keys'] ?? [])].sort())
    keys[k] = (item as Record<string, unknown>)[k];
  return JSON.stringify(keys);
}

function checkObject(
  v: Record<string, unknown>,
  s: JSONSchemaProps,
  path: string,
  issues: FieldIssue[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...v };
  const join = (k: string) => (path ? `${path}.${k}` : k);
  if (s.properties) {
    for (const k of Object.keys(v)) {
      if (!(k in s.properties) && !s['x-kubernetes-preserve-unknown-fields'])
        issues.push({ path: '', message: `unknown field "${join(k)}"` });
    }
    for (const [k, child] of Object.entries(s.properties)) {
      if (out[k] === undefined && child.default !== undefined) out[k] = structuredClone(child.default);
      if (out[k] !== undefined) out[k] = checkStructure(out[k], child, join(k), issues);
    }
    for (const k of s.required ?? [])
      if (out[k] === undefined) issues.push({ path: join(k), message: 'Required value' });
  }
  if (s.additionalProperties) {
    for (const [k, child] of Object.entries(v))
      out[k] = checkStructure(child, s.additionalProperties, join(k), issues);
  }
  const n = Object.keys(v).length;
  if (s.maxProperties !== undefined && n > s.maxProperties)
    issues.push({ path, message: `Too many: ${n}: must have at most ${s.maxProperties} items` });
  return out;
}
