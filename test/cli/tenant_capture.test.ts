// The three ways an AINamespace tried to capture team-b's traffic (issue 14, item 2) are refused
// offline the way the operator refuses them: `sluice validate -f` and `sluice render` exit 1 naming
// the field, and `sluice validate` refuses the same overlap in a hand-written dataplane config.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runSluice } from '../helpers/sluice_cli.ts';

const run = runSluice;

const cr = (kind: string, ns: string, name: string, created: string, spec: unknown) => ({
  apiVersion: 'gateway.sluice.dev/v1alpha1',
  kind,
  metadata: { name, namespace: ns, creationTimestamp: created },
  spec,
});
const OLD = '2026-01-01T00:00:00Z';
const NEW = '2026-02-01T00:00:00Z';

const teamB = [
  cr('AIProvider', 'team-b', 'mock', OLD, { type: 'mock' }),
  cr('AIRoute', 'team-b', 'chat', OLD, { backends: [{ providerRef: { name: 'mock' } }] }),
  cr('AINamespace', 'team-b', 'team-b', OLD, {
    match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-001' }] },
  }),
];
const attacks = {
  copy: { name: 'x-channel-code', equals: 'ch-001' },
  regex: { name: 'X-Channel-Code', regex: '.*' },
  absent: { name: 'X-Nobody-Sends-This', present: false },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-capture-'));
  await writeFile(join(dir, 'team-b.yaml'), teamB.map((d) => stringify(d)).join('---\n'));
  for (const [name, header] of Object.entries(attacks))
    await writeFile(
      join(dir, `attack-${name}.yaml`),
      stringify(cr('AINamespace', 'evil', name, NEW, { match: { headers: [header] } })),
    );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('capturing another tenant by header matchers', () => {
  it('team-b alone is fine', async () => {
    expect(await run('validate', '-f', join(dir, 'team-b.yaml'))).toMatchObject({ code: 0 });
  });

  it.each([
    ['copy', 'spec.match.headers: matches requests that AINamespace team-b/team-b (created earlier)'],
    ['regex', 'spec.match.headers[0]: a namespace identified by headers alone must match exact values'],
    ['absent', 'spec.match.headers[0]: a namespace identified by headers alone must match exact values'],
  ])('%s: sluice validate -f and sluice render exit 1 naming the field', async (name, expected) => {
    const files = ['-f', join(dir, 'team-b.yaml'), '-f', join(dir, `attack-${name}.yaml`)];
    for (const cmd of ['validate', 'render']) {
      const r = await run(cmd, ...files);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(`AINamespace evil/${name}: ${expected}`);
    }
  });

  it('sluice validate refuses the same overlap in a dataplane config, naming the later entry', async () => {
    const file = join(dir, 'config.yaml');
    await writeFile(
      file,
      stringify({
        providers: [{ name: 'mock', type: 'mock' }],
        routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
        namespaces: [
          { name: 'team-b', match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-001' }] } },
          { name: 'copy', match: { headers: [{ name: 'X-Channel-Code', in: ['ch-009', 'ch-001'] }] } },
          // a header team-b does not use: a request carrying both matches both
          { name: 'other', match: { headers: [{ name: 'X-Region', equals: 'eu' }] } },
          // different values on a shared header: disjoint, accepted
          { name: 'team-c', match: { headers: [{ name: 'X-Channel-Code', equals: 'ch-002' }] } },
        ],
      }),
    );
    const r = await run('validate', file);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `${file}: namespaces[1].match.headers: matches requests that namespace "team-b" also matches: namespaces identified by headers alone need a header they both match, with values that differ`,
      `${file}: namespaces[2].match.headers: matches requests that namespace "team-b" also matches: namespaces identified by headers alone need a header they both match, with values that differ`,
    ]);
  });
});
