-- Argo CD action discovery for airlock.dev AIService: kill and restore.
--
-- Actions run without the Lua standard libraries: only base and table functions.
-- The operator treats airlock.dev/kill-switch as engaged unless its value is exactly "false"; the
-- annotation, not the status, decides which action applies, so the menu is right even while the
-- operator is catching up (or down).

local KILL_SWITCH = "airlock.dev/kill-switch"

local engaged = false
if obj.metadata ~= nil and obj.metadata.annotations ~= nil then
  local value = obj.metadata.annotations[KILL_SWITCH]
  engaged = value ~= nil and value ~= "false"
end

local actions = {}
actions["kill"] = {
  disabled = engaged,
  displayName = "Engage kill switch",
  iconClass = "fa fa-fw fa-stop-circle",
  params = {{name = "reason"}},
}
actions["restore"] = {
  disabled = not engaged,
  displayName = "Release kill switch",
  iconClass = "fa fa-fw fa-play-circle",
}
return actions
