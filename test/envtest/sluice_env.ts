// Sluice on top of the envtest control plane: the CRDs installed and Established, a KubeConfig and
// REST client for the test process, and small helpers the operator suites share.
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { isNotFound, KubeRest } from '../../kube/kube_rest.ts';
import { REPO_ROOT } from './binaries.ts';
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from './controlplane.ts';

export interface SluiceEnv {
  cp: ControlPlane;
  kc: KubeConfig;
  rest: KubeRest;
  /** creates a namespace (idempotent) */
  namespace(name: string): Promise<void>;
  /** kubectl that throws with its stderr on failure */
  kubectlOk(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startSluiceEnv(opts: ControlPlaneOptions = {}): Promise<SluiceEnv> {
  const cp = await startControlPlane(opts);
  try {
    const kubectlOk = async (args: string[], input?: string) => {
      const r = await cp.kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
      return r.stdout;
    };
    await kubectlOk(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
    await kubectlOk([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '-l',
      'app.kubernetes.io/part-of=sluice',
    ]);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const rest = new KubeRest(kc);
    const namespace = async (name: string) => {
      try {
        await rest.request('GET', `/api/v1/namespaces/${name}`);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await rest.request('POST', '/api/v1/namespaces', {
          body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
        });
      }
    };
    return { cp, kc, rest, namespace, kubectlOk, stop: () => cp.stop() };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}
