// The chart and the CLI agree: every flag the chart passes to `sluice operator` and `sluice serve`
// is one the real command documents in its --help (an unknown flag would crash-loop the pods), and
// the rendered operator paths match where the dataplane mounts things.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NODE_BIN } from '../helpers/dataplane.ts';
import { get, getArray, type K8sObject, one, REPO_ROOT, render, runOk } from './helm.ts';

const SLUICE = join(REPO_ROOT, 'bin/sluice.js');

function flags(args: unknown[]): string[] {
  return args
    .filter((a): a is string => typeof a === 'string' && a.startsWith('--'))
    .map((a) => a.split('=')[0]!);
}

function argValue(args: unknown[], flag: string): string | undefined {
  const hit = args.find((a) => typeof a === 'string' && a.startsWith(`${flag}=`));
  return typeof hit === 'string' ? hit.slice(flag.length + 1) : undefined;
}

describe('chart <-> CLI contract', () => {
  let objs: K8sObject[];
  beforeAll(async () => {
    objs = await render({ redis: { url: 'redis://r:6379', password: 'x' } });
  });

  it('passes the operator only flags `sluice operator --help` documents', async () => {
    const args = getArray(one(objs, 'Deployment', 'sluice-operator'), 'spec.template.spec.containers.0.args');
    expect(args[0]).toBe('operator');
    const help = await runOk(NODE_BIN, [SLUICE, 'operator', '--help']);
    const used = flags(args);
    expect(used.length).toBeGreaterThanOrEqual(8);
    for (const f of used) expect(help, `sluice operator --help lacks ${f}`).toMatch(new RegExp(`\\s${f}\\b`));
  });

  it('passes the dataplane only flags `sluice serve --help` documents', async () => {
    const args = getArray(
      one(objs, 'Deployment', 'sluice-dataplane'),
      'spec.template.spec.containers.0.args',
    );
    expect(args[0]).toBe('serve');
    const help = await runOk(NODE_BIN, [SLUICE, 'serve', '--help']);
    for (const f of flags(args))
      expect(help, `sluice serve --help lacks ${f}`).toMatch(new RegExp(`\\s${f}\\b`));
    // HOST and PORT come from the environment.
    expect(help).toMatch(/PORT and HOST environment variables/);
  });

  it('points the operator at the dataplane mounts and the base config it mounts itself', () => {
    const op = one(objs, 'Deployment', 'sluice-operator');
    const dp = one(objs, 'Deployment', 'sluice-dataplane');
    const opArgs = getArray(op, 'spec.template.spec.containers.0.args');
    const dpMounts = getArray(dp, 'spec.template.spec.containers.0.volumeMounts');
    const opMounts = getArray(op, 'spec.template.spec.containers.0.volumeMounts');
    const mountOf = (mounts: unknown[], name: string) =>
      get(
        mounts.find((m) => get(m, 'name') === name),
        'mountPath',
      );
    expect(argValue(opArgs, '--secrets-dir')).toBe(mountOf(dpMounts, 'secrets'));
    expect(argValue(opArgs, '--base-config')).toBe(`${String(mountOf(opMounts, 'base-config'))}/base.yaml`);
    expect(argValue(opArgs, '--owner-deployment')).toBe(op.metadata.name);
    const dpArgs = getArray(dp, 'spec.template.spec.containers.0.args');
    expect(argValue(dpArgs, '--config')).toBe(`${String(mountOf(dpMounts, 'config'))}/config.yaml`);
  });
});
