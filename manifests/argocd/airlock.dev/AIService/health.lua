-- Argo CD health check for airlock.dev AIService.
--
-- Argo CD runs scripts from argocd-cm without the Lua standard libraries: only base and table
-- functions exist here (no string or math library, no string methods). Keep it that way.
--
-- Mapping (docs/argocd.md explains why):
--   not yet evaluated by the operator    -> Progressing
--   kill switch engaged                  -> Suspended
--   kill switch requested or released    -> Progressing (the operator is acting on it)
--   Deployment not found                 -> Degraded
--   promoted, gates regressed (held)     -> Degraded
--   last stage (Production)              -> Healthy
--   a stage between the first and last   -> Healthy, with the Ready message
--   first stage (Pilot), capped          -> Healthy (the cap is the product working)
--
-- Stages may have any names: the Ready reason says where the service stands (Pilot for the first
-- stage, InStage for one between, Production for the last, whatever they are called). Statuses without
-- a Ready condition fall back to the built-in names Pilot and Production.

local KILL_SWITCH = "airlock.dev/kill-switch"
local KILL_SWITCH_REASON = "airlock.dev/kill-switch-reason"

local function present(value)
  return value ~= nil and value ~= ""
end

local function findCondition(status, conditionType)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

local function replicas(count)
  if count == 1 then
    return "1 replica"
  end
  return tostring(count) .. " replicas"
end

local function waitingFor(generation)
  if generation == nil then
    return {status = "Progressing", message = "Waiting for the operator to evaluate this AIService"}
  end
  return {
    status = "Progressing",
    message = "Waiting for the operator to evaluate generation " .. tostring(generation),
  }
end

local function gatesSummary(status)
  if present(status.gatesPassed) then
    return "; " .. status.gatesPassed .. " gates pass"
  end
  return ""
end

local function blockingSummary(status)
  if status.blockingGates ~= nil and #status.blockingGates > 0 then
    return "; blocking: " .. table.concat(status.blockingGates, ", ")
  end
  if present(status.blocking) then
    return "; blocking: " .. status.blocking
  end
  return ""
end

local function findStage(status, name)
  if status.stages == nil then
    return nil
  end
  for _, stage in ipairs(status.stages) do
    if stage.name == name then
      return stage
    end
  end
  return nil
end

-- What the next stage waits for: the soak when its gates pass, else (with more than the two built-in
-- stages) its failing gates; with two stages, every blocking gate, as before stages existed.
local function nextSummary(status)
  if present(status.nextStage) and present(status.blocking) then
    local following = findStage(status, status.nextStage)
    if following ~= nil and following.gatesPass == true then
      return "; " .. status.nextStage .. " after the " .. status.blocking
    end
    if status.stages ~= nil and #status.stages > 2 then
      return "; " .. status.nextStage .. " needs: " .. status.blocking
    end
  end
  return blockingSummary(status)
end

local function stageName(status, fallback)
  if present(status.stage) then
    return status.stage
  end
  return fallback
end

local function firstStage(status, spec)
  local allowed = status.allowedReplicas
  if allowed == nil or allowed < 0 then
    allowed = spec.pilotReplicas or 1
  end
  return {
    status = "Healthy",
    message = stageName(status, "Pilot") .. ": capped at " .. replicas(allowed) .. gatesSummary(status) ..
      nextSummary(status),
  }
end

local function lastStage(status)
  local cap = "no replica cap"
  if status.allowedReplicas ~= nil and status.allowedReplicas >= 0 then
    cap = "up to " .. replicas(status.allowedReplicas)
  end
  return {status = "Healthy", message = stageName(status, "Production") .. ": " .. cap .. gatesSummary(status)}
end

local function stageBetween(status, ready)
  if present(ready.message) then
    return {status = "Healthy", message = ready.message}
  end
  local cap = "no replica cap"
  if status.allowedReplicas ~= nil and status.allowedReplicas >= 0 then
    cap = "capped at " .. replicas(status.allowedReplicas)
  end
  return {
    status = "Healthy",
    message = stageName(status, "a stage between") .. ": " .. cap .. gatesSummary(status) .. nextSummary(status),
  }
end

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
local spec = obj.spec or {}
local status = obj.status
local generation = metadata.generation

-- The operator treats the annotation as engaged unless its value is exactly "false".
local killRequested = annotations[KILL_SWITCH] ~= nil and annotations[KILL_SWITCH] ~= "false"

if status == nil then
  return waitingFor(generation)
end

-- The kill switch comes first: a killed service is what on-call needs to see, whatever else is true.
local killSwitch = status.killSwitch or {}
local killed = killSwitch.engaged == true or status.stage == "Killed"
if killed and killRequested then
  local reason = killSwitch.reason
  if not present(reason) then
    reason = annotations[KILL_SWITCH_REASON]
  end
  if present(reason) then
    return {status = "Suspended", message = "Kill switch engaged: " .. reason}
  end
  return {status = "Suspended", message = "Kill switch engaged"}
end
if killed then
  return {
    status = "Progressing",
    message = "Kill switch released; waiting for the operator to restore the Deployment's replicas",
  }
end
if killRequested then
  return {
    status = "Progressing",
    message = "Kill switch requested; waiting for the operator to scale the Deployment to zero",
  }
end

-- metadata.generation moves only with the spec: until the operator has seen this spec, the rest of
-- the status describes an older one.
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  return waitingFor(generation)
end

local workloadFound = findCondition(status, "WorkloadFound")
if workloadFound ~= nil and workloadFound.status == "False" then
  if present(workloadFound.message) then
    return {status = "Degraded", message = workloadFound.message}
  end
  local workloadName = "(unnamed)"
  if spec.workload ~= nil and present(spec.workload.name) then
    workloadName = spec.workload.name
  end
  return {status = "Degraded", message = "Deployment " .. workloadName .. " not found"}
end

local ready = findCondition(status, "Ready")
if ready ~= nil and ready.status == "False" and ready.reason == "GatesRegressed" then
  if present(ready.message) then
    return {status = "Degraded", message = ready.message}
  end
  local held = ""
  if status.heldReplicas ~= nil then
    held = "; holding " .. replicas(status.heldReplicas)
  end
  return {
    status = "Degraded",
    message = "Gates regressed after promotion" .. held .. gatesSummary(status) .. blockingSummary(status),
  }
end

-- The Ready reason places the stage whatever its name; without one, the built-in names do.
if ready ~= nil and ready.reason == "InStage" then
  return stageBetween(status, ready)
end
if ready ~= nil and ready.reason == "Pilot" then
  return firstStage(status, spec)
end
if ready ~= nil and ready.status == "True" and ready.reason == "Production" then
  return lastStage(status)
end
if status.stage == "Production" then
  return lastStage(status)
end
if status.stage == "Pilot" then
  return firstStage(status, spec)
end

if ready ~= nil and ready.status == "True" then
  if present(ready.message) then
    return {status = "Healthy", message = ready.message}
  end
  return {status = "Healthy", message = "Ready"}
end

return {status = "Progressing", message = "Waiting for the operator to report a stage"}
