// Lua scripts that make one admission atomic inside Redis (a script runs alone on the server), so N
// replicas share every limit exactly. They mirror MemoryStore.admitNow / settleNow line by line.
// Time comes from Redis TIME, not from the replicas, so clock skew between pods cannot widen a bucket.
// Every key of one call shares the namespace hash tag ({ns}), so the scripts also run on Redis Cluster.
import { createHash } from 'node:crypto';

/**
 * KEYS: rate keys, then concurrency keys, then window keys, then the reservation key when spec.v is set.
 * ARGV[1]: JSON {r: [[emissionMs, burst]], c: [[max, id, leaseMs]], w: [[limit, fixed, perOutput, ttlMs, resetMs]], o: wantOutput, v: reservationTtlMs}
 * Returns JSON {ok, grant, rates: [[remaining, resetMs]], used: [..]} or {ok: false, kind, index, retry, used}.
 * The reservation record holds what each window was charged; a record that already exists (a
 * tombstone left by CANCEL) means this admission was given up by its replica: it must not charge.
 */
export const ADMIT_LUA = `
local spec = cjson.decode(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nr, nc, nw = #spec.r, #spec.c, #spec.w
local rsv = spec.v and KEYS[nr + nc + nw + 1]
if rsv and redis.call('EXISTS', rsv) == 1 then return cjson.encode({ok = false, kind = 'cancelled'}) end
local function deny(kind, index, retry, used)
  return cjson.encode({ok = false, kind = kind, index = index, retry = math.ceil(retry), used = used})
end
local tats = {}
for i = 1, nr do
  local e, b = spec.r[i][1], spec.r[i][2]
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local newTat = tat + e
  local allowAt = newTat - b * e
  if now < allowAt then return deny('rate', i - 1, allowAt - now) end
  tats[i] = newTat
end
for i = 1, nc do
  local k = KEYS[nr + i]
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  if redis.call('ZCARD', k) >= spec.c[i][1] then return deny('concurrency', i - 1, 1000) end
end
local grant = spec.o
local tightest = 0
local used = {}
for i = 1, nw do
  local op = spec.w[i]
  local u = tonumber(redis.call('GET', KEYS[nr + nc + i]) or '0')
  used[i] = u
  if u + op[2] > op[1] then return deny('window', i - 1, op[5], u) end
  if op[3] > 0 then
    local cap = math.floor((op[1] - u - op[2]) / op[3] + 1e-9)
    if cap < grant or tightest == 0 then
      if cap < grant then grant = cap end
      tightest = i
    end
  end
end
if spec.o > 0 and tightest > 0 and grant < 1 then
  return deny('window', tightest - 1, spec.w[tightest][5], used[tightest])
end
local rates = {}
for i = 1, nr do
  local e, b = spec.r[i][1], spec.r[i][2]
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
  local remaining = math.floor((now - tats[i]) / e + b)
  if remaining < 0 then remaining = 0 end
  rates[i] = {remaining, math.ceil(tats[i] - now)}
end
for i = 1, nc do
  local k = KEYS[nr + i]
  redis.call('ZADD', k, now + spec.c[i][3], spec.c[i][2])
  redis.call('PEXPIRE', k, spec.c[i][3])
end
local after = {}
local charged = {}
for i = 1, nw do
  local op = spec.w[i]
  charged[i] = string.format('%.17g', op[2] + op[3] * grant)
  local v = used[i] + op[2] + op[3] * grant
  redis.call('SET', KEYS[nr + nc + i], string.format('%.17g', v), 'PX', op[4])
  after[i] = v
end
if rsv then redis.call('SET', rsv, table.concat(charged, ','), 'PX', spec.v) end
return cjson.encode({ok = true, grant = grant, rates = rates, used = after})
`;

/**
 * KEYS: window keys, then concurrency keys, then the reservation key when spec.v is set.
 * ARGV[1]: JSON {w: [delta..], c: [id..], v: 1}.
 * A window that already expired is not recreated: its period is over and nothing is left to correct.
 * A settlement naming a reservation applies only while its record exists and removes it: delivered
 * twice (a replay after a lost reply), it changes nothing the second time.
 */
export const SETTLE_LUA = `
local spec = cjson.decode(ARGV[1])
local nw = #spec.w
if spec.v then
  local rsv = KEYS[nw + #spec.c + 1]
  local rec = redis.call('GET', rsv)
  if not rec or rec == 'x' then return 0 end
  redis.call('DEL', rsv)
end
for i = 1, nw do
  local cur = redis.call('GET', KEYS[i])
  if cur then
    local v = tonumber(cur) + spec.w[i]
    if v < 0 then v = 0 end
    redis.call('SET', KEYS[i], string.format('%.17g', v), 'KEEPTTL')
  end
end
for i = 1, #spec.c do redis.call('ZREM', KEYS[nw + i], spec.c[i]) end
return 1
`;

/**
 * Undoes an admission whose reply was lost (the replica served the request on its local share, or
 * refused it): KEYS and ARGV[1] exactly as ADMIT; ARGV[2] '1' when the admission is known to have
 * been granted (its late reply said so), ARGV[3] tombstone ttl. With a reservation key, the record
 * says whether (and how much) it charged, and a tombstone replaces it so the admission can never
 * charge later (a command still in flight on a dead connection). Rate buckets get their slot back.
 */
export const CANCEL_LUA = `
local spec = cjson.decode(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nr, nc, nw = #spec.r, #spec.c, #spec.w
local amounts
if spec.v then
  local rsv = KEYS[nr + nc + nw + 1]
  local rec = redis.call('GET', rsv)
  redis.call('SET', rsv, 'x', 'PX', tonumber(ARGV[3]))
  if not rec or rec == 'x' then return 0 end
  amounts = {}
  for a in string.gmatch(rec, '[^,]+') do amounts[#amounts + 1] = tonumber(a) end
elseif ARGV[2] ~= '1' then
  return 0
end
for i = 1, nr do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  local back = tat - spec.r[i][1]
  if back > now then
    redis.call('SET', KEYS[i], string.format('%.3f', back), 'PX', math.ceil(back - now))
  elseif tat > 0 then
    redis.call('DEL', KEYS[i])
  end
end
for i = 1, nc do redis.call('ZREM', KEYS[nr + i], spec.c[i][2]) end
for i = 1, nw do
  local cur = redis.call('GET', KEYS[nr + nc + i])
  if cur and amounts and amounts[i] then
    local v = tonumber(cur) - amounts[i]
    if v < 0 then v = 0 end
    redis.call('SET', KEYS[nr + nc + i], string.format('%.17g', v), 'KEEPTTL')
  end
end
return 1
`;

/**
 * KEYS[1] window key, KEYS[2] the merge's id key; ARGV: delta, ttlMs, id ttl. Adds usage recorded
 * locally during an outage, once: a merge replayed after a lost reply finds its id and does nothing.
 */
export const MERGE_LUA = `
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', tonumber(ARGV[3])) then return 0 end
local v = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if tonumber(v) < 0 then redis.call('SET', KEYS[1], '0', 'KEEPTTL') end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

export interface LuaScript {
  source: string;
  sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export const scripts = {
  admit: script(ADMIT_LUA),
  settle: script(SETTLE_LUA),
  merge: script(MERGE_LUA),
  cancel: script(CANCEL_LUA),
};
