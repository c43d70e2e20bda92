// Lua scripts that make one admission atomic inside Redis (a script runs alone on the server), so N
// replicas share every limit exactly. They mirror MemoryStore.admitNow / settleNow line by line.
// Time comes from Redis TIME, not from the replicas, so clock skew between pods cannot widen a bucket.
// Every key of one batch shares the namespace hash tag ({ns}), and on Redis Cluster a coalesced call
// joins only batches of one hash tag, so the scripts also run there.
import { createHash } from 'node:crypto';

// Coalescing (store/redis_coalesce.ts): the admissions and the settlements a replica issues in one
// event-loop turn go to Redis as ONE call of ADMIT_MANY / SETTLE_MANY, which handles each request's
// batch in turn. A script runs alone on the server, so N batches in one call are exactly N calls run
// back to back: every batch sees the counters the batches before it left, nothing else runs between
// them, and each batch gets its own result. Each batch is checked (reads only) inside a Lua pcall
// before anything of it is written, so a batch Redis refuses (a key of the wrong type) writes nothing
// and gets its error as its result, while the batches around it are applied as usual.

/** Lua shared by both scripts: the text of a refusal, from redis.call's error table or a Lua error. */
const REFUSAL = `
local function refusal(e)
  if type(e) == 'table' then return tostring(e.err or e[1] or 'error') end
  return tostring(e)
end
`;

/**
 * KEYS: each batch's keys back to back: rate keys, then concurrency keys, then window keys, then the
 * reservation key when its spec.v is set. ARGV: one spec per batch, JSON
 * {r: [[emissionMs, burst]], c: [[max, id, leaseMs]], w: [[limit, fixed, perOutput, ttlMs, resetMs]], o: wantOutput, v: reservationTtlMs}.
 * Returns a JSON array, one entry per batch, shaped as the AdmitResult it is (store/types.ts), so the
 * parsed reply is the result: {ok, grant, rates: [{remaining, resetMs}], windowsUsed: [..]},
 * {ok: false, kind, index, retryAfterMs, used}, {ok: false, kind: 'cancelled'} or {ok: false, kind: 'error', error}.
 * The reservation record holds what each window was charged; a record that already exists (a
 * tombstone left by CANCEL) means this admission was given up by its replica: it must not charge.
 */
export const ADMIT_MANY_LUA = `${REFUSAL}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function deny(kind, index, retry, used)
  return cjson.encode({ok = false, kind = kind, index = index, retryAfterMs = math.ceil(retry), used = used})
end
-- Reads and decides; writes nothing but expired leases (a no-op for the limits).
local function check(spec, base)
  local nr, nc, nw = #spec.r, #spec.c, #spec.w
  local rsv = spec.v and KEYS[base + nr + nc + nw + 1]
  if rsv and redis.call('EXISTS', rsv) == 1 then return cjson.encode({ok = false, kind = 'cancelled'}) end
  local tats = {}
  for i = 1, nr do
    local e, b = spec.r[i][1], spec.r[i][2]
    local tat = tonumber(redis.call('GET', KEYS[base + i]) or '0')
    if tat < now then tat = now end
    local newTat = tat + e
    local allowAt = newTat - b * e
    if now < allowAt then return deny('rate', i - 1, allowAt - now) end
    tats[i] = newTat
  end
  for i = 1, nc do
    local k = KEYS[base + nr + i]
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
    if redis.call('ZCARD', k) >= spec.c[i][1] then return deny('concurrency', i - 1, 1000) end
  end
  local grant = spec.o
  local tightest = 0
  local used = {}
  for i = 1, nw do
    local op = spec.w[i]
    local u = tonumber(redis.call('GET', KEYS[base + nr + nc + i]) or '0')
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
  return {tats = tats, used = used, grant = grant}
end
local function charge(spec, base, plan)
  local nr, nc, nw = #spec.r, #spec.c, #spec.w
  local tats, used, grant = plan.tats, plan.used, plan.grant
  local rates = {}
  for i = 1, nr do
    local e, b = spec.r[i][1], spec.r[i][2]
    redis.call('SET', KEYS[base + i], string.format('%.3f', tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
    local remaining = math.floor((now - tats[i]) / e + b)
    if remaining < 0 then remaining = 0 end
    rates[i] = {remaining = remaining, resetMs = math.ceil(tats[i] - now)}
  end
  for i = 1, nc do
    local k = KEYS[base + nr + i]
    redis.call('ZADD', k, now + spec.c[i][3], spec.c[i][2])
    redis.call('PEXPIRE', k, spec.c[i][3])
  end
  local after = {}
  local charged = {}
  for i = 1, nw do
    local op = spec.w[i]
    charged[i] = string.format('%.17g', op[2] + op[3] * grant)
    local v = used[i] + op[2] + op[3] * grant
    redis.call('SET', KEYS[base + nr + nc + i], string.format('%.17g', v), 'PX', op[4])
    after[i] = v
  end
  if spec.v then redis.call('SET', KEYS[base + nr + nc + nw + 1], table.concat(charged, ','), 'PX', spec.v) end
  return cjson.encode({ok = true, grant = grant, rates = rates, windowsUsed = after})
end
local out = {}
local base = 0
for b = 1, #ARGV do
  local ok, spec = pcall(cjson.decode, ARGV[b])
  if not ok then
    out[b] = cjson.encode({ok = false, kind = 'error', error = 'bad spec: ' .. refusal(spec)})
    -- without its counts the keys of the batches after it cannot be found: refuse them too
    for rest = b + 1, #ARGV do out[rest] = out[b] end
    break
  end
  local checked, plan = pcall(check, spec, base)
  if not checked then
    out[b] = cjson.encode({ok = false, kind = 'error', error = refusal(plan)})
  elseif type(plan) == 'string' then
    out[b] = plan
  else
    out[b] = charge(spec, base, plan)
  end
  base = base + #spec.r + #spec.c + #spec.w + (spec.v and 1 or 0)
end
return '[' .. table.concat(out, ',') .. ']'
`;

/**
 * KEYS: each batch's keys back to back: window keys, then concurrency keys, then the reservation key
 * when its spec.v is set. ARGV: one spec per batch, JSON {w: [delta..], c: [id..], v: 1}.
 * Returns one entry per batch: 1 applied, 0 nothing to apply (its reservation was settled or
 * cancelled already), or the text of the error that refused it (nothing of it written).
 * A window that already expired is not recreated: its period is over and nothing is left to correct.
 * A settlement naming a reservation applies only while its record exists and removes it: delivered
 * twice (a replay after a lost reply), it changes nothing the second time.
 */
export const SETTLE_MANY_LUA = `${REFUSAL}
local function check(spec, base)
  local nw, nc = #spec.w, #spec.c
  if spec.v then
    local rec = redis.call('GET', KEYS[base + nw + nc + 1])
    if not rec or rec == 'x' then return false end
  end
  local cur = {}
  for i = 1, nw do
    local v = redis.call('GET', KEYS[base + i])
    if v then
      cur[i] = tonumber(v)
      if not cur[i] then error('window ' .. KEYS[base + i] .. ' does not hold a number') end
      if type(spec.w[i]) ~= 'number' then error('delta ' .. i .. ' is not a number') end
    end
  end
  for i = 1, nc do
    local ty = redis.call('TYPE', KEYS[base + nw + i]).ok
    if ty ~= 'zset' and ty ~= 'none' then error('WRONGTYPE ' .. KEYS[base + nw + i] .. ' is a ' .. ty) end
  end
  return cur
end
local out = {}
local base = 0
for b = 1, #ARGV do
  local ok, spec = pcall(cjson.decode, ARGV[b])
  if not ok then
    for rest = b, #ARGV do out[rest] = 'bad spec: ' .. refusal(spec) end
    break
  end
  local nw, nc = #spec.w, #spec.c
  local checked, cur = pcall(check, spec, base)
  if not checked then
    out[b] = refusal(cur)
  elseif not cur then
    out[b] = 0
  else
    if spec.v then redis.call('DEL', KEYS[base + nw + nc + 1]) end
    for i = 1, nw do
      if cur[i] then
        local v = cur[i] + spec.w[i]
        if v < 0 then v = 0 end
        redis.call('SET', KEYS[base + i], string.format('%.17g', v), 'KEEPTTL')
      end
    end
    for i = 1, nc do redis.call('ZREM', KEYS[base + nw + i], spec.c[i]) end
    out[b] = 1
  end
  base = base + nw + nc + (spec.v and 1 or 0)
end
return out
`;

/**
 * Undoes an admission whose reply was lost (the replica served the request on its local share, or
 * refused it): KEYS and ARGV[1] exactly as one batch of ADMIT_MANY; ARGV[2] '1' when the admission is known to have
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
  admitMany: script(ADMIT_MANY_LUA),
  settleMany: script(SETTLE_MANY_LUA),
  merge: script(MERGE_LUA),
  cancel: script(CANCEL_LUA),
};
