// Builds the CustomResourceDefinition objects (and their YAML) from the API types. `npm run crds`
// (operator/src/api/generate.ts) writes crds/; crds.test.ts fails when the committed YAML drifts.
import { stringify } from 'yaml';
import { aiNamespaceKind } from './ainamespace.ts';
import { aiPolicyKind } from './aipolicy.ts';
import { aiProviderKind } from './aiprovider.ts';
import { aiRouteKind } from './airoute.ts';
import { CATEGORY, GROUP, status, VERSION } from './common.ts';
import type { KindDefinition } from './kind.ts';
import type { JSONSchemaProps } from './schema_dsl.ts';

export const KINDS: readonly KindDefinition[] = [aiProviderKind, aiRouteKind, aiNamespaceKind, aiPolicyKind];

export function kindByName(kind: string): KindDefinition | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/** The full openAPIV3Schema of a kind: the envelope, its spec and the shared status. */
export function objectSchema(def: KindDefinition): JSONSchemaProps {
  return {
    description: def.description,
    type: 'object',
    properties: {
      apiVersion: { description: 'APIVersion of this object: gateway.sluice.dev/v1alpha1', type: 'string' },
      kind: { description: `Kind of this object: ${def.kind}`, type: 'string' },
      // the API server forbids anything but the type here: metadata is the standard ObjectMeta
      metadata: { type: 'object' },
      spec: def.spec,
      status: status.schema,
    },
    required: ['spec'],
  };
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

export function buildCrd(def: KindDefinition): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'sluice' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: objectSchema(def) },
        },
      ],
    },
  };
}

export function crdFileName(def: KindDefinition): string {
  return `${GROUP}_${def.plural}.yaml`;
}

export function crdYaml(def: KindDefinition): string {
  const header = '# Generated from operator/src/api by `npm run crds`. Do not edit by hand.\n---\n';
  return header + stringify(buildCrd(def), { lineWidth: 0, aliasDuplicateObjects: false });
}
