-- Argo CD action "restore" for airlock.dev AIService: release the kill switch.
--
-- Actions run without the Lua standard libraries: only base and table functions.
-- The switch is released by setting airlock.dev/kill-switch to "false" (the operator treats only
-- "false" as released) and removing the reason, rather than by deleting the switch annotation.
-- Argo CD turns the returned object into a JSON merge patch; a removed key becomes null and is
-- deleted, but if the annotations table ends up empty, Argo CD before 3.2 puts the live annotations
-- back (an empty Lua table cannot say whether it was a map) and the restore silently does nothing.
-- Keeping the switch key means the table is never empty, on every Argo CD version.
-- The operator then brings back the recorded replicas, capped by what the gates allow.

local KILL_SWITCH = "airlock.dev/kill-switch"
local KILL_SWITCH_REASON = "airlock.dev/kill-switch-reason"

local annotations = obj.metadata.annotations
if annotations == nil or annotations[KILL_SWITCH] == nil or annotations[KILL_SWITCH] == "false" then
  local name = obj.metadata.name or "(unnamed)"
  if obj.metadata.namespace ~= nil then
    name = obj.metadata.namespace .. "/" .. name
  end
  error("restore: the kill switch of AIService " .. name .. " is not engaged; nothing to restore", 0)
end

annotations[KILL_SWITCH] = "false"
annotations[KILL_SWITCH_REASON] = nil
return obj
