// Offline evaluation of the CRDs' CEL rules (x-kubernetes-validations) with a standard CEL evaluator.
// The Sluice rules use only standard CEL (has, size, all, exists, exists_one, filter, in, ternaries),
// so every one of them is evaluated offline; a rule needing a Kubernetes-only CEL library would be
// reported as "cannot evaluate offline" instead of silently passing.
import { type ParseResult, parse } from '@marcbachmann/cel-js';
import type { JSONSchemaProps, ValidationRule } from '../api/schema_dsl.ts';
import type { FieldIssue } from './structural.ts';

const compiled = new Map<string, ParseResult>();

function program(rule: string): ParseResult {
  let p = compiled.get(rule);
  if (!p) {
    p = parse(rule);
    compiled.set(rule, p);
  }
  return p;
}

/** JSON value -> CEL value: schema integers are CEL ints (bigint), numbers are doubles. */
export function toCel(value: unknown, schema: JSONSchemaProps): unknown {
  if (schema.type === 'integer' && typeof value === 'number') return BigInt(value);
  if (Array.isArray(value)) return value.map((v) => (schema.items ? toCel(v, schema.items) : v));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const child = schema.properties?.[k] ?? schema.additionalProperties;
      out[k] = child ? toCel(v, child) : v;
    }
    return out;
  }
  return value;
}

function failure(rule: ValidationRule, path: string): FieldIssue {
  const at = rule.fieldPath ? `${path}${rule.fieldPath}` : path;
  switch (rule.reason) {
    case 'FieldValueRequired':
      return { path: at, message: `Required value: ${rule.message}` };
    case 'FieldValueForbidden':
      return { path: at, message: `Forbidden: ${rule.message}` };
    case 'FieldValueDuplicate':
      return { path: at, message: `Duplicate value: ${rule.message}` };
    default:
      return { path: at, message: `Invalid value: ${rule.message}` };
  }
}

/** Evaluate every rule on every present node, children first. `value` must already be defaulted. */
export function checkRules(
  value: unknown,
  schema: JSONSchemaProps,
  path: string,
  issues: FieldIssue[],
): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    value.forEach((v, i) => {
      checkRules(v, items, `${path}[${i}]`, issues);
    });
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const child = schema.properties?.[k] ?? schema.additionalProperties;
      if (child) checkRules(v, child, path ? `${path}.${k}` : k, issues);
    }
  }
  const rules = schema['x-kubernetes-validations'];
  if (!rules?.length) return;
  const self = toCel(value, schema);
  for (const rule of rules) {
    let ok: unknown;
    try {
      ok = program(rule.rule)({ self });
    } catch (err) {
      issues.push({
        path,
        message: `cannot evaluate offline: ${(err as Error).message} evaluating rule: ${rule.rule}`,
      });
      continue;
    }
    if (ok !== true) issues.push(failure(rule, path));
  }
}
