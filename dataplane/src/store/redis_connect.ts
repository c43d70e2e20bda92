// Turning store.redis.url into ioredis connection settings. Three topologies, one URL field:
//   redis://[user:pass@]host:port[/db]   (rediss:// for TLS)          -> standalone
//   redis-sentinel://[:pass@]h1:p1,h2:p2/master-name[?db=N]           -> Sentinel (pass = Redis password)
//   redis://h1:p1,redis://h2:p2  or  redis-cluster://h1:p1,h2:p2       -> Cluster (seed nodes)
// Every command fails fast instead of queueing while Redis is away (enableOfflineQueue: false). No
// ioredis commandTimeout: the store times its commands itself (store/deadline.ts), per coalesced call
// and only where something waits. ioredis's arms a timer per command and `delete`s it from the Command
// on the reply, and that alone promoted ~1.4 KiB per request into the old generation at one request
// in flight (bench/alloc.ts, issue 16), whose mark-compacts cost the full policy stack its throughput.
import type { ClusterOptions, RedisOptions } from 'ioredis';

export interface RedisSettings {
  url: string;
  password?: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

export type RedisTarget =
  | { kind: 'standalone'; options: RedisOptions }
  | { kind: 'sentinel'; options: RedisOptions }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; options: ClusterOptions };

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

function hostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(text.trim());
  if (!m?.[1]) throw new RedisUrlError(`invalid host "${text}"`);
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RedisUrlError(`invalid port in "${text}"`);
  return { host: m[1], port };
}

/** Reconnect quickly but not in a hot loop: 50 ms, 100 ms, ... capped at 1 s, forever. */
const retryStrategy = (times: number): number => Math.min(times * 50, 1_000);

function common(s: RedisSettings): RedisOptions {
  return {
    connectTimeout: s.connectTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    lazyConnect: false,
    connectionName: 'sluice-dataplane',
  };
}

function dbOf(path: string, query: URLSearchParams): number | undefined {
  const text = query.get('db') ?? path.replace(/^\//, '');
  if (!text) return undefined;
  const db = Number(text);
  if (!Number.isInteger(db) || db < 0) throw new RedisUrlError(`invalid database "${text}"`);
  return db;
}

export function parseRedisUrl(s: RedisSettings): RedisTarget {
  const url = s.url.trim();
  const base = common(s);
  if (url.startsWith('redis-sentinel://')) {
    const rest = url.slice('redis-sentinel://'.length);
    const at = rest.lastIndexOf('@');
    const auth = at >= 0 ? rest.slice(0, at) : '';
    const afterAuth = at >= 0 ? rest.slice(at + 1) : rest;
    const [hostsPart = '', pathAndQuery = ''] = splitOnce(afterAuth, '/');
    const [name = '', queryText = ''] = splitOnce(pathAndQuery, '?');
    if (!name) throw new RedisUrlError('redis-sentinel:// needs the master name as its path');
    const sentinels = hostsPart.split(',').map((h) => hostPort(h, 26379));
    const password = s.password ?? (auth ? decodeURIComponent(auth.replace(/^[^:]*:/, '')) : undefined);
    return {
      kind: 'sentinel',
      options: { ...base, sentinels, name, password, db: dbOf('', new URLSearchParams(queryText)) },
    };
  }
  const parts = url.split(',').filter((p) => p.trim() !== '');
  if (url.startsWith('redis-cluster://') || parts.length > 1) {
    const nodes = parts.map((p) => hostPort(p.trim().replace(/^redis(s|-cluster)?:\/\/([^@]*@)?/, ''), 6379));
    const first = new URL(parts[0]?.trim().replace(/^redis-cluster:/, 'redis:') ?? '');
    const password = s.password ?? (first.password ? decodeURIComponent(first.password) : undefined);
    return {
      kind: 'cluster',
      nodes,
      options: {
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        redisOptions: { ...base, password, tls: first.protocol === 'rediss:' ? {} : undefined },
      },
    };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RedisUrlError(`invalid Redis URL "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new RedisUrlError(
      `unsupported scheme "${u.protocol}" (use redis://, rediss:// or redis-sentinel://)`,
    );
  return {
    kind: 'standalone',
    options: {
      ...base,
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: s.password ?? (u.password ? decodeURIComponent(u.password) : undefined),
      db: dbOf(u.pathname, u.searchParams),
      tls: u.protocol === 'rediss:' ? {} : undefined,
    },
  };
}

function splitOnce(text: string, sep: string): [string, string] {
  const i = text.indexOf(sep);
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}
