import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanLogs } from './log_scrub.ts';

describe('log scrub', () => {
  it('finds a planted secret and counts clean lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrub-'));
    writeFileSync(join(dir, 'a.log'), '{"msg":"ok"}\n{"msg":"leak sk-planted-1"}\n');
    writeFileSync(join(dir, 'b.log'), '{"msg":"fine"}\n');
    const r = scanLogs(dir, ['sk-planted-1']);
    rmSync(dir, { recursive: true });
    expect(r.lines).toBe(3);
    expect(r.files).toBe(2);
    expect(r.leaks).toEqual(['a.log: {"msg":"leak sk-planted-1"}']);
  });
});
