// Per-key limits (`scope.perApiKey`) count each caller apart, whatever the caller's name: an API key
// named "jwt:x" once shared its counters with the JWT whose `sub` is "x", and a key named "-" shared
// them with every keyless caller of the namespace (policy/caller.ts). Run on the memory store and on
// a real Redis, whose keys the same batches name.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { post, sha256, tenantConfig } from './fixtures.ts';

const SECRET = 'caller-collisions-hs256-secret-0123456789';
const KEY_JWT_NAMED = 'sk-named-like-a-jwt-subject';
const KEY_DASH = 'sk-named-dash';
const KEY_ANON = 'sk-named-anon';
const KEY_OTHER_NS = 'sk-other-namespace';

const config = (store: unknown) =>
  tenantConfig({
    store,
    namespaces: [
      {
        name: 'mix',
        default: true,
        match: {
          apiKeys: [
            { name: 'jwt:x', sha256: sha256(KEY_JWT_NAMED) },
            { name: '-', sha256: sha256(KEY_DASH) },
            { name: 'anon=', sha256: sha256(KEY_ANON) },
          ],
          jwt: { algorithms: ['HS256'], secret: { env: 'SLUICE_TEST_CALLER_SECRET' } },
        },
        policies: ['one-per-caller'],
      },
      // same policy, a key whose name reads like the other namespace's caller
      {
        name: 'other',
        match: { apiKeys: [{ name: 'jwt:x', sha256: sha256(KEY_OTHER_NS) }] },
        policies: ['one-per-caller'],
      },
    ],
    policies: [
      { name: 'one-per-caller', scope: { perApiKey: true }, requests: { limit: 1, window: 'hour' } },
    ],
  });

const jwtFor = (sub: string) =>
  new SignJWT({ namespace: 'mix' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe.each(['memory', 'redis'] as const)('per-key counters on the %s store', (kind) => {
  let redis: RedisServer | undefined;
  let dp: InProcessDataplane;

  beforeAll(async () => {
    process.env.SLUICE_TEST_CALLER_SECRET = SECRET;
    if (kind === 'redis') redis = await startRedis();
    const store = redis
      ? { type: 'redis', redis: { url: redis.url, keyPrefix: 'callers:', commandTimeoutMs: 2_000 } }
      : { type: 'memory' };
    dp = await startDataplane(config(store));
  });
  afterAll(async () => {
    await dp?.stop();
    await redis?.stop();
  });

  const status = async (headers: Record<string, string>) => (await post(dp.url, body, headers)).status;

  it('never lets two callers of different sources share a counter', async () => {
    const token = await jwtFor('x');
    // each caller's one request of the hour: all admitted, none spent by another's
    expect(await status({ authorization: `Bearer ${token}` })).toBe(200);
    expect(await status({ authorization: `Bearer ${KEY_JWT_NAMED}` })).toBe(200);
    expect(await status({})).toBe(200); // keyless, served by the default namespace
    expect(await status({ authorization: `Bearer ${KEY_DASH}` })).toBe(200);
    expect(await status({ authorization: `Bearer ${KEY_ANON}` })).toBe(200);
    expect(await status({ authorization: `Bearer ${KEY_OTHER_NS}` })).toBe(200);
    // and each one's own second request is refused: the counters do count
    expect(await status({ authorization: `Bearer ${await jwtFor('x')}` })).toBe(429);
    expect(await status({ authorization: `Bearer ${KEY_JWT_NAMED}` })).toBe(429);
    expect(await status({})).toBe(429);
    expect(await status({ authorization: `Bearer ${KEY_DASH}` })).toBe(429);
    expect(await status({ authorization: `Bearer ${KEY_ANON}` })).toBe(429);
    expect(await status({ authorization: `Bearer ${KEY_OTHER_NS}` })).toBe(429);
    // a different subject is a different caller
    expect(await status({ authorization: `Bearer ${await jwtFor('y')}` })).toBe(200);
  });

  it.runIf(kind === 'redis')('names the callers apart in Redis keys', () => {
    const keys = (redis as RedisServer).cli('--scan', '--pattern', 'callers:*:k:*').trim().split('\n').sort();
    expect(keys).toEqual(
      [
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:jwt%3Ax',
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:jwt=x',
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:jwt=y',
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:-',
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:anon%3D',
        'callers:{mix}:one-per-caller:rq:1/hour/1:k:anon=',
        'callers:{other}:one-per-caller:rq:1/hour/1:k:jwt%3Ax',
      ].sort(),
    );
  });
});
