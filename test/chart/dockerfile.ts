// A small Dockerfile reader for the image tests: stages, their instructions (continuation lines
// joined, comments dropped) and exec-form arrays. Enough for the instructions our Dockerfiles use.
import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
}

export function readDockerfile(path: string): Dockerfile {
  const lines: string[] = [];
  let pending = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) lines.push(full);
  }
  const out: Dockerfile = { args: {}, stages: [] };
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`${path}: cannot parse '${line}'`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'ARG' && out.stages.length === 0) {
      const [k, v = ''] = args.split('=');
      out.args[k!] = v;
      continue;
    }
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!fm) throw new Error(`${path}: bad FROM '${args}'`);
      const from = fm[1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => out.args[k] ?? '');
      out.stages.push({ from, name: fm[2], instructions: [] });
      continue;
    }
    const stage = out.stages.at(-1);
    if (!stage) throw new Error(`${path}: '${op}' before FROM`);
    stage.instructions.push({ op, args });
  }
  return out;
}

export function stage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage '${name}'`);
  return s;
}

export function instructions(s: Stage, op: string): string[] {
  return s.instructions.filter((i) => i.op === op).map((i) => i.args);
}

/** The JSON (exec) form of ENTRYPOINT/CMD; throws for the shell form, which would run through /bin/sh. */
export function execForm(s: Stage, op: 'ENTRYPOINT' | 'CMD'): string[] {
  const found = instructions(s, op);
  if (found.length !== 1) throw new Error(`expected one ${op}, found ${found.length}`);
  const parsed: unknown = JSON.parse(found[0]!);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
    throw new Error(`${op} is not an exec-form array: ${found[0]}`);
  return parsed;
}
