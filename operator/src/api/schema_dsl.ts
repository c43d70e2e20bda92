// A tiny builder for CRD OpenAPI v3 schemas that also yields the TypeScript type of the object it
// describes. The API types under operator/src/api/ are written once with these builders: the CRD YAML
// in crds/ is generated from them and the renderer is typed by them, so the two cannot drift.
// Every builder takes a description first, so a field without one does not compile (kubectl explain).

export interface ValidationRule {
  rule: string;
  message: string;
  /** JSON path (relative to the node) the error is reported on, so the message names the field */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps the CRDs use. Key order is output order. */
export interface JSONSchemaProps {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: readonly string[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
}

/** A schema node carrying the TS type `T` of its values and whether it is optional in its parent. */
export interface Field<T, Optional extends boolean = true> {
  readonly schema: JSONSchemaProps;
  readonly optional: Optional;
  /** phantom: never set at run time */
  readonly __type?: T;
}

export type TypeOf<F> = F extends Field<infer T, boolean> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<P> = { [K in keyof P]: P[K] extends Field<unknown, false> ? K : never }[keyof P];
type OptionalKeys<P> = Exclude<keyof P, RequiredKeys<P>>;
export type ObjectOf<P> = Simplify<
  { [K in RequiredKeys<P>]: TypeOf<P[K]> } & { [K in OptionalKeys<P>]?: TypeOf<P[K]> }
>;

type Extra = Omit<JSONSchemaProps, 'type' | 'description' | 'properties' | 'items' | 'required' | 'enum'>;
type Props = Record<string, Field<unknown, boolean>>;

function field<T>(schema: JSONSchemaProps): Field<T, true> {
  return { schema, optional: true };
}

/** Mark a field required in its parent object. */
export function req<T>(f: Field<T, boolean>): Field<T, false> {
  return { schema: f.schema, optional: false };
}

export function str(description: string, extra: Extra = {}): Field<string> {
  return field({ description, type: 'string', ...extra });
}

export function oneOf<const E extends readonly string[]>(
  description: string,
  values: E,
  extra: Extra = {},
): Field<E[number]> {
  return field({ description, type: 'string', enum: values, ...extra });
}

export function int(description: string, extra: Extra = {}): Field<number> {
  return field({ description, type: 'integer', ...extra });
}

export function num(description: string, extra: Extra = {}): Field<number> {
  return field({ description, type: 'number', ...extra });
}

export function bool(description: string, extra: Extra = {}): Field<boolean> {
  return field({ description, type: 'boolean', ...extra });
}

export function arr<I extends Field<unknown, boolean>>(
  description: string,
  item: I,
  extra: Extra = {},
): Field<Array<TypeOf<I>>> {
  return field({ description, type: 'array', items: item.schema, ...extra });
}

export function map<V extends Field<unknown, boolean>>(
  description: string,
  value: V,
  extra: Extra = {},
): Field<Record<string, TypeOf<V>>> {
  return field({ description, type: 'object', additionalProperties: value.schema, ...extra });
}

export function obj<P extends Props>(description: string, props: P, extra: Extra = {}): Field<ObjectOf<P>> {
  const properties: Record<string, JSONSchemaProps> = {};
  const required: string[] = [];
  for (const [k, f] of Object.entries(props)) {
    properties[k] = f.schema;
    if (!f.optional) required.push(k);
  }
  const schema: JSONSchemaProps = { description, type: 'object', properties };
  if (required.length) schema.required = required;
  return field({ ...schema, ...extra });
}

/** Attach CEL rules to a node (kept separate so long rule lists read well under the field list). */
export function cel<T, O extends boolean>(f: Field<T, O>, ...rules: ValidationRule[]): Field<T, O> {
  const existing = f.schema['x-kubernetes-validations'] ?? [];
  return { ...f, schema: { ...f.schema, 'x-kubernetes-validations': [...existing, ...rules] } };
}

/** Walk every node with its path (for the description check and offline validation helpers). */
export function walkSchema(
  schema: JSONSchemaProps,
  visit: (node: JSONSchemaProps, path: string) => void,
  path = '',
): void {
  visit(schema, path);
  for (const [k, child] of Object.entries(schema.properties ?? {})) walkSchema(child, visit, `${path}.${k}`);
  if (schema.items) walkSchema(schema.items, visit, `${path}[]`);
  if (schema.additionalProperties) walkSchema(schema.additionalProperties, visit, `${path}{}`);
}
