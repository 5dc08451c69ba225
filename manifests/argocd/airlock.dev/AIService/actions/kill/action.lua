-- Argo CD action "kill" for airlock.dev AIService: engage the kill switch.
--
-- Actions run without the Lua standard libraries: only base and table functions.
-- Argo CD applies the returned object as a JSON merge patch against the live one, so only the two
-- annotations change. The operator scales the Deployment to zero and records its replicas; the
-- admission policy denies every scale-up from now on, even with the operator down.
-- Nothing here refuses a kill: a long reason is trimmed by the operator, not rejected in an incident.

local KILL_SWITCH = "airlock.dev/kill-switch"
local KILL_SWITCH_REASON = "airlock.dev/kill-switch-reason"
local DEFAULT_REASON = "killed from Argo CD"

if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local annotations = obj.metadata.annotations
local current = annotations[KILL_SWITCH]
local alreadyEngaged = current ~= nil and current ~= "false"

-- actionParams exists from Argo CD 3.1; older versions run the action without parameters.
local reason = nil
if actionParams ~= nil then
  reason = actionParams["reason"]
end
if reason == nil or reason == "" then
  -- Running kill again without a reason keeps the reason on-call gave the first time.
  local existing = annotations[KILL_SWITCH_REASON]
  if alreadyEngaged and existing ~= nil and existing ~= "" then
    reason = existing
  else
    reason = DEFAULT_REASON
  end
end

annotations[KILL_SWITCH] = "true"
annotations[KILL_SWITCH_REASON] = reason
return obj
