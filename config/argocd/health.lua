-- ArgoCD health check for Sluice's gateway.sluice.dev kinds (AIProvider, AIRoute, AINamespace,
-- AIPolicy). ArgoCD runs it with the live object in `obj` and expects {status, message}.
-- Written for ArgoCD's Lua 5.1 (gopher-lua); also runs on Lua 5.4.
--
--   Healthy      Programmed=True, computed for the current metadata.generation
--   Degraded     Accepted=False or ResolvedRefs=False for the current generation (a spec error
--                or a missing reference that the operator has reported)
--                Also Programmed=False for the current generation for longer than STUCK_MINUTES
--                (10): no replica running (NoReplicas), nothing rendered (NoConfig), or a
--                replica that does not load the config (Pending); a rollout takes seconds
--   Progressing  anything else: no status yet, conditions for an older generation, or accepted
--                and resolved but not yet served by every dataplane replica
local hs = { status = "Progressing", message = "Waiting for the Sluice operator to reconcile" }
local STUCK_MINUTES = 10
local STUCK_SECONDS = STUCK_MINUTES * 60

local generation = obj.metadata and obj.metadata.generation or nil
local status = obj.status
if status == nil or status.conditions == nil then
  return hs
end

-- A condition describes the current spec only when its observedGeneration (or, failing that,
-- status.observedGeneration) equals metadata.generation.
local function current(c)
  local observed = c.observedGeneration
  if observed == nil then observed = status.observedGeneration end
  return generation == nil or (observed ~= nil and observed == generation)
end

-- Seconds since an RFC 3339 UTC timestamp, or nil when it cannot be told (no os library, a bad
-- timestamp). ArgoCD preloads a safe os module for require; both times go through os.time as local
-- time, so the time zone cancels out.
local function secondsSince(stamp)
  if type(stamp) ~= "string" then return nil end
  local ok, os = pcall(require, "os")
  if not ok or os == nil or os.time == nil or os.date == nil then return nil end
  local y, mo, d, h, mi, s = string.match(stamp, "^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if y == nil then return nil end
  local t = { year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h), min = tonumber(mi), sec = tonumber(s), isdst = false }
  local now = os.date("!*t")
  now.isdst = false
  return os.time(now) - os.time(t)
end

local byType = {}
for _, c in ipairs(status.conditions) do
  if c.type ~= nil then byType[c.type] = c end
end

local function describe(c)
  local text = c.type .. "=" .. tostring(c.status)
  if c.reason ~= nil and c.reason ~= "" then text = text .. " (" .. c.reason .. ")" end
  if c.message ~= nil and c.message ~= "" then text = text .. ": " .. c.message end
  return text
end

for _, t in ipairs({ "Accepted", "ResolvedRefs" }) do
  local c = byType[t]
  if c ~= nil and c.status == "False" and current(c) then
    hs.status = "Degraded"
    hs.message = describe(c)
    return hs
  end
end

local programmed = byType["Programmed"]
if programmed ~= nil and current(programmed) then
  if programmed.status == "True" then
    hs.status = "Healthy"
    hs.message = describe(programmed)
    return hs
  end
  hs.message = describe(programmed)
  local stuck = secondsSince(programmed.lastTransitionTime)
  if programmed.status == "False" and stuck ~= nil and stuck > STUCK_SECONDS then
    hs.status = "Degraded"
    hs.message = "for more than " .. tostring(STUCK_MINUTES) .. " minutes: " .. hs.message
  end
  return hs
end

if generation ~= nil then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
end
return hs
