// The policy engine's gate factory (dataplane/src/policy/gate.ts), for benchmarks that compile tenant
// configs directly (API keys, limits) the same way a Dataplane does.

import type { CompileOptions } from '../../dataplane/src/compiled/compile.ts';
import { policyGateFactory } from '../../dataplane/src/policy/gate.ts';

export async function loadGateFactory(): Promise<CompileOptions['gateFactory']> {
  return policyGateFactory();
}
