// The hash of a loaded config: what a replica reports in its Lease and the operator writes on the
// ConfigMap. Part of the contract (contract.ts): both sides must compute it the same way.
import { createHash } from 'node:crypto';
import type { SluiceConfig } from './schema.ts';

export function configHash(cfg: SluiceConfig): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex').slice(0, 16);
}
