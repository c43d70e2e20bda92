// The command table loads each command lazily; its summaries (shown by `sluice --help`) must stay the
// commands' own.
import { describe, expect, it } from 'vitest';
import { commands } from './commands.ts';

describe('command table', () => {
  it.each(Object.keys(commands))('%s: the table summary is the command’s own', async (name) => {
    const entry = commands[name];
    const loaded = await entry?.load();
    expect(loaded?.summary).toBe(entry?.summary);
    expect(typeof loaded?.run).toBe('function');
  });
});
