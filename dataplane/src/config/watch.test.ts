import { linkSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from './watch.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ConfigWatcher: which events in the config folder count', () => {
  const dirs: string[] = [];
  const watchers: ConfigWatcher[] = [];
  afterEach(() => {
    for (const w of watchers.splice(0)) w.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function setUp(alsoWatched?: (name: string) => boolean) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
    dirs.push(dir);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'v: 1\n');
    // a second name for the config's own inode: writing through it changes the config's content while
    // the folder's event names the other file, so a check that runs anyway would see the change
    linkSync(file, join(dir, 'other-name.txt'));
    const changes: string[] = [];
    // the poll (the safety net) is pushed out of the test's reach: only events can schedule a check
    const w = new ConfigWatcher({
      file,
      debounceMs: 5,
      pollMs: 3_600_000,
      alsoWatched,
      onChange: async (text) => {
        changes.push(text);
      },
      onError: (err) => {
        throw err;
      },
    });
    watchers.push(w);
    w.start('v: 1\n');
    return { dir, file, changes, w };
  }

  it('ignores other files in the folder (an access log beside the config)', async () => {
    const { dir, file, changes } = setUp();
    writeFileSync(join(dir, 'other-name.txt'), 'v: 2\n');
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'access.log'), `line ${i}\n`, { flag: 'a' });
    await sleep(200);
    expect(readFileSync(file, 'utf8')).toBe('v: 2\n');
    expect(changes).toEqual([]);
    // an event on the config's own name does count, and the check then reads the new content
    utimesSync(file, new Date(), new Date());
    for (let i = 0; i < 100 && changes.length === 0; i++) await sleep(10);
    expect(changes).toEqual(['v: 2\n']);
  });

  it("counts kubelet's `..` entries and the names the caller watches", async () => {
    const { dir, changes, w } = setUp((name) => name === 'provider-key');
    let secret = 'k1';
    w.secretsDigestFn = async () => secret;
    secret = 'k2';
    writeFileSync(join(dir, 'provider-key'), 'k2');
    for (let i = 0; i < 100 && changes.length === 0; i++) await sleep(10);
    expect(changes).toHaveLength(1);
    writeFileSync(join(dir, 'other-name.txt'), 'v: 3\n');
    writeFileSync(join(dir, '..data_tmp'), '');
    for (let i = 0; i < 100 && changes.length === 1; i++) await sleep(10);
    expect(changes).toEqual(['v: 1\n', 'v: 3\n']);
  });
});
