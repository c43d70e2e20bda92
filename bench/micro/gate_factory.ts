// The policy engine's gate factory (dataplane/src/policy/gate.ts), for benchmarks that compile tenant
// configs directly (API keys, limits) the same way a Dataplane does.
import { policyGateFactory } from '../../dataplane/src/policy/gate.ts';
import type { CompileOptions } from '../../dataplane/src/runtime/compile.ts';

export async function loadGateFactory(): Promise<CompileOptions['gateFactory']> {
  return policyGateFactory();
}
