// Validates one Sluice custom resource offline, as the API server would before admitting it:
// envelope (apiVersion, kind, metadata.name), then the CRD's structural schema with defaults, then
// its CEL rules (only on a structurally valid object, so rule errors are not noise).
import { kindByName, objectSchema } from '../api/crd.ts';
import type { JSONSchemaProps } from '../api/schema_dsl.ts';
import { checkRules } from './cel.ts';
import { checkStructure, type FieldIssue, isBlocking } from './structural.ts';

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface CrValidation {
  issues: FieldIssue[];
  /** the object with CRD defaults applied (what the API server would store) */
  defaulted: Record<string, unknown>;
}

export function validateResource(doc: Record<string, unknown>): CrValidation {
  const issues: FieldIssue[] = [];
  const def = kindByName(String(doc.kind));
  if (!def)
    return {
      issues: [{ path: 'kind', message: `unknown kind ${JSON.stringify(doc.kind)}` }],
      defaulted: doc,
    };
  const meta = doc.metadata as Record<string, unknown> | undefined;
  const name = meta?.name;
  if (typeof name !== 'string' || name === '')
    issues.push({ path: 'metadata.name', message: 'Required value: name is required' });
  else if (name.length > 253 || !NAME.test(name))
    issues.push({
      path: 'metadata.name',
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  // metadata and status are not the author's concern here: validate the rest against the schema
  const schema = objectSchema(def);
  const { metadata, status: _status, ...rest } = doc;
  const props = { ...schema.properties } as Record<string, JSONSchemaProps>;
  delete props.metadata;
  delete props.status;
  const body = checkStructure(rest, { ...schema, properties: props }, '', issues) as Record<string, unknown>;
  if (issues.some(isBlocking))
    issues.push({
      path: '',
      message:
        'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
    });
  else if (body.spec !== undefined) checkRules(body.spec, props.spec as JSONSchemaProps, 'spec', issues);
  return { issues, defaulted: { ...body, metadata } };
}
