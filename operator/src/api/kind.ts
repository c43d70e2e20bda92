// What the CRD generator needs to know about one kind.
import type { PrinterColumn } from './common.ts';
import type { JSONSchemaProps } from './schema_dsl.ts';

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** shown by `kubectl explain <kind>` */
  description: string;
  spec: JSONSchemaProps;
  printerColumns: PrinterColumn[];
}
