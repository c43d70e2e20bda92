// The config contract between the operator and the dataplane, in one place: the operator imports the
// dataplane only through this module (test/operator/contract_boundary.test.ts holds it to that). It
// is what a rendered config must be (the schema), how a replica reads and checks it (loader, tenancy
// and pattern checks, presets), the hash a replica reports, and whether a replica would load it at all
// (LoadCheck / loadableIssues, which run the dataplane's own compiler), and how a replica redacts
// secrets from what it says (the operator scrubs tenants' status messages the same way). The definitions live next to this file
// (or, for presets and pattern checks, where the dataplane keeps them) and are re-exported as they are,
// so neither side can drift from the other.

export { patternProblem } from '../compiled/patterns.ts';
export { checkJwks } from '../policy/jwks.ts';
export { getPreset, listPresets } from '../providers/presets.ts';
export { Redactor } from '../security/redactor.ts';
export { MIN_FRAGMENT } from '../security/secret_matcher.ts';
export { configHash } from './hash.ts';
export {
  COMPRESSED_MARKER,
  ConfigError,
  type ConfigIssue,
  decodeStoredText,
  parseConfigText,
  validateConfig,
} from './load.ts';
export { LoadCheck, loadableIssues } from './loadable.ts';
export { ReuseCache } from './reuse_cache.ts';
export {
  configSchema,
  type RenderedObjects,
  type SecretSource,
  type SluiceConfig,
  type SluiceConfigInput,
} from './schema.ts';
export { DISJOINT, emptyMessage, HeaderTenants, INEXACT } from './tenancy.ts';
