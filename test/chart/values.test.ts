// values.yaml and values.schema.json: `helm lint --strict` passes, the schema closes every object
// (additionalProperties: false), every default is documented, and bad values are rejected with a
// message naming the bad field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_TOGGLES_ON, CHART_DIR, HELM, renderError, requireTool, run, valuesFile } from './helm.ts';

type Schema = Record<string, unknown>;

/** JSON pointers of object schemas that declare properties but leave additionalProperties open. */
function openObjects(node: unknown, pointer: string, out: string[]): string[] {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) openObjects(n, `${pointer}/${i}`, out);
  } else if (node && typeof node === 'object') {
    const s = node as Schema;
    if (s.properties !== undefined && s.additionalProperties !== false) out.push(pointer || '/');
    for (const [k, v] of Object.entries(s)) openObjects(v, `${pointer}/${k}`, out);
  }
  return out;
}

describe('helm lint', () => {
  it('passes --strict with the default values', async () => {
    const r = await run(requireTool(HELM), ['lint', '--strict', CHART_DIR]);
    expect(r.stdout + r.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('passes --strict with every toggle on', async () => {
    const vf = valuesFile(ALL_TOGGLES_ON);
    try {
      const r = await run(requireTool(HELM), ['lint', '--strict', CHART_DIR, '-f', vf.path]);
      expect(r.stdout + r.stderr).toContain('0 chart(s) failed');
      expect(r.code).toBe(0);
    } finally {
      vf.cleanup();
    }
  });
});

describe('values.schema.json', () => {
  const schemaFiles = ['values.schema.json', 'charts/crds/values.schema.json'];

  it.each(schemaFiles)('%s closes every object it describes (additionalProperties: false)', (file) => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, file), 'utf8'));
    // The one exception: a pod Volume, whose many source types the API server validates.
    expect(openObjects(schema, '', [])).toEqual(file === 'values.schema.json' ? ['/definitions/volume'] : []);
  });

  it('documents every key of values.yaml with a `# --` comment and carries the $schema modeline', () => {
    const lines = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8').split('\n');
    expect(lines[0]).toBe('# yaml-language-server: $schema=values.schema.json');
    const undocumented: string[] = [];
    lines.forEach((line, i) => {
      // A leaf key (a value on the same line, or a list/map whose items follow) at any depth.
      const m = /^(\s*)([A-Za-z][\w.-]*):\s*(\S.*)?$/.exec(line);
      if (!m || m[3] === undefined) return;
      let j = i - 1;
      while (j >= 0 && /^\s*# (?!--)/.test(lines[j] ?? '')) j--;
      if (!/^\s*# --/.test(lines[j] ?? '') && !/^\s*#\s/.test(lines[i - 1] ?? '')) undocumented.push(m[2]!);
    });
    // Keys under probes / security contexts are Kubernetes fields documented by their parent.
    const k8sFields = new Set([
      'path',
      'port',
      'periodSeconds',
      'timeoutSeconds',
      'failureThreshold',
      'runAsNonRoot',
      'runAsUser',
      'runAsGroup',
      'fsGroup',
      'type',
      'allowPrivilegeEscalation',
      'readOnlyRootFilesystem',
      'drop',
      'cpu',
      'memory',
      'maxSkew',
      'topologyKey',
      'whenUnsatisfiable',
      'stabilizationWindowSeconds',
      'value',
      'host',
      'pathType',
      'grafana_dashboard',
    ]);
    expect(undocumented.filter((k) => !k8sFields.has(k))).toEqual([]);
  });

  // Each case: values, then the exact line Helm prints for it.
  const badValues: [string, unknown, string][] = [
    [
      'an unknown top-level key',
      { replicaCount: 3 },
      "- at '': additional properties 'replicaCount' not allowed",
    ],
    [
      'a typo in a nested key',
      { dataplane: { autoscalling: { enabled: true } } },
      "- at '/dataplane': additional properties 'autoscalling' not allowed",
    ],
    [
      'a wrong type',
      { dataplane: { replicas: 'two' } },
      "- at '/dataplane/replicas': got string, want integer",
    ],
    [
      'a value outside an enum',
      { redis: { failMode: 'sometimes' } },
      "- at '/redis/failMode': value must be one of 'open', 'closed'",
    ],
    [
      'a Redis URL with the wrong scheme',
      { redis: { url: 'http://redis:6379' } },
      "- at '/redis/url': 'http://redis:6379' does not match pattern '^((redis|rediss|redis-sentinel)://\\\\S+)?$'",
    ],
    [
      'an invalid namespace name',
      { operator: { watchNamespaces: ['Team_A'] } },
      "- at '/operator/watchNamespaces/0': 'Team_A' does not match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
    ],
    [
      'a duplicated watched namespace',
      { operator: { watchNamespaces: ['team-a', 'team-a'] } },
      "- at '/operator/watchNamespaces': items at 0 and 1 are equal",
    ],
    [
      'an Ingress path without a leading slash',
      { ingress: { hosts: [{ host: 'a.example.com', paths: [{ path: 'api' }] }] } },
      "- at '/ingress/hosts/0/paths/0/path': 'api' does not match pattern '^/'",
    ],
    [
      'a misspelt securityContext field',
      { dataplane: { securityContext: { runAsNonroot: true } } },
      "- at '/dataplane/securityContext': additional properties 'runAsNonroot' not allowed",
    ],
    [
      'an error-rate threshold given in percent',
      { monitoring: { prometheusRule: { errorRateThreshold: 5 } } },
      "- at '/monitoring/prometheusRule/errorRateThreshold': maximum: got 5, want 1",
    ],
    [
      'an unknown key in the crds block',
      { crds: { upgrade: true } },
      "- at '/crds': additional properties 'upgrade' not allowed",
    ],
    [
      'a grace period shorter than preStop + drain',
      { dataplane: { terminationGracePeriodSeconds: 30 } },
      'dataplane.terminationGracePeriodSeconds (30) must be greater than dataplane.preStopSleepSeconds + dataplane.drainTimeoutSeconds (70): otherwise the kubelet kills pods while streams are still draining',
    ],
    [
      'an HPA with no metric',
      { dataplane: { autoscaling: { targetCPUUtilizationPercentage: null } } },
      'dataplane.autoscaling is enabled but has no metric: set targetCPUUtilizationPercentage or enable inflightRequests',
    ],
    [
      'several operator replicas without leader election',
      { operator: { leaderElection: { enabled: false } } },
      'operator.replicas > 1 needs operator.leaderElection.enabled: without it every replica would write the rendered config',
    ],
    [
      'maxReplicas below minReplicas',
      { dataplane: { autoscaling: { minReplicas: 5, maxReplicas: 3 } } },
      'dataplane.autoscaling.maxReplicas (3) must be >= minReplicas (5)',
    ],
  ];

  it.each(badValues)('rejects %s with a message naming the field', async (_what, values, message) => {
    const stderr = await renderError(values);
    expect(stderr).toContain(message);
  });
});
