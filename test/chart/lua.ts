// Runs an ArgoCD health-check Lua script with a real Lua interpreter (Debian's lua5.4, which
// scripts/install-tools.sh installs), the way ArgoCD does: the live object in the global `obj`,
// the script's return value read as {status, message}.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './helm.ts';

export const LUA = ['/usr/bin/lua5.4', '/usr/local/bin/lua5.4'].find((p) => existsSync(p)) ?? 'lua5.4';

/** A JSON value as a Lua table constructor (null becomes nil, as ArgoCD's JSON-to-Lua does). */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  const entries = Object.entries(v as Record<string, unknown>).map(
    ([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`,
  );
  return `{${entries.join(', ')}}`;
}

/** Runs `script` once per object in one interpreter; returns [status, message] per object. */
export async function runHealth(
  script: string,
  objects: unknown[],
  dir: string,
): Promise<[string, string][]> {
  const scriptPath = join(dir, 'health.lua');
  writeFileSync(scriptPath, script);
  const harness = [
    `local check = assert(loadfile(${JSON.stringify(scriptPath)}))`,
    `local objects = ${toLua(objects)}`,
    'for i = 1, #objects do',
    '  obj = objects[i]',
    '  local hs = check()',
    '  io.write(tostring(hs.status), "\\t", tostring(hs.message), "\\n")',
    'end',
  ].join('\n');
  const harnessPath = join(dir, 'harness.lua');
  writeFileSync(harnessPath, harness);
  const out = await runOk(LUA, [harnessPath]);
  return out
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t') as [string, string]);
}
