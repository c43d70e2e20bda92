import { describe, expect, it } from 'vitest';
import { parseRedisUrl, RedisUrlError } from './redis_connect.ts';

const base = { commandTimeoutMs: 50, connectTimeoutMs: 2_000 };

describe('store.redis.url', () => {
  it('parses standalone URLs, with TLS, auth and database', () => {
    const t = parseRedisUrl({ ...base, url: 'rediss://user:p%40ss@redis.example:6380/2' });
    expect(t.kind).toBe('standalone');
    expect(t.options).toMatchObject({
      host: 'redis.example',
      port: 6380,
      username: 'user',
      password: 'p@ss',
      db: 2,
      tls: {},
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
  });

  it('sets no per-command ioredis timeout (the store times its calls: store/deadline.ts)', () => {
    for (const url of ['redis://h:6379', 'redis-sentinel://s1:26379/m', 'redis://n1:7000,redis://n2:7001']) {
      const t = parseRedisUrl({ ...base, url });
      const options = t.kind === 'cluster' ? t.options.redisOptions : t.options;
      expect(options).toBeDefined();
      expect(options && 'commandTimeout' in options).toBe(false);
    }
  });

  it('lets the password secret override the URL password', () => {
    const t = parseRedisUrl({ ...base, url: 'redis://:old@h:6379', password: 'new' });
    expect(t.options).toMatchObject({ password: 'new', port: 6379 });
  });

  it('parses Sentinel URLs with the master name as path', () => {
    const t = parseRedisUrl({ ...base, url: 'redis-sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster?db=1' });
    expect(t).toMatchObject({
      kind: 'sentinel',
      options: {
        name: 'mymaster',
        password: 'pw',
        db: 1,
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26380 },
        ],
      },
    });
  });

  it('parses Cluster seed lists', () => {
    const a = parseRedisUrl({ ...base, url: 'redis://n1:7000,redis://n2:7001' });
    expect(a).toMatchObject({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
    });
    const b = parseRedisUrl({ ...base, url: 'redis-cluster://n1:7000,n2:7001', password: 'x' });
    expect(b).toMatchObject({
      kind: 'cluster',
      options: { enableOfflineQueue: false, redisOptions: { password: 'x' } },
    });
  });

  it('explains bad URLs', () => {
    expect(() => parseRedisUrl({ ...base, url: 'http://h' })).toThrow(RedisUrlError);
    expect(() => parseRedisUrl({ ...base, url: 'redis-sentinel://s1:26379' })).toThrow(/master name/);
    expect(() => parseRedisUrl({ ...base, url: 'redis://h:99999' })).toThrow();
  });
});
