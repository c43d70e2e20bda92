// Builds a @kubernetes/client-node KubeConfig for a running envtest control
// plane, so tests can use typed clients next to cp.kubectl().
import { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from './controlplane.ts';

/** A KubeConfig loaded from the harness's kubeconfig (admin token, CA-verified TLS). */
export function kubeConfigFor(cp: Pick<ControlPlane, 'kubeconfigPath'>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  return kc;
}
