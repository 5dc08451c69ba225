-- Argo CD health check for airlock.dev ReadinessPacket.
--
-- Argo CD runs scripts from argocd-cm without the Lua standard libraries: only base and table
-- functions exist here (no string or math library, no string methods). Keep it that way.
--
-- Mapping (docs/argocd.md explains why):
--   not yet evaluated by the operator  -> Progressing
--   complete                           -> Healthy
--   incomplete                         -> Healthy, naming the failing gates: a packet being filled
--                                         in is normal, and the AIService shows what it blocks

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

local function waitingFor(generation)
  if generation == nil then
    return {status = "Progressing", message = "Waiting for the operator to evaluate this ReadinessPacket"}
  end
  return {
    status = "Progressing",
    message = "Waiting for the operator to evaluate generation " .. tostring(generation),
  }
end

local metadata = obj.metadata or {}
local status = obj.status
local generation = metadata.generation

if status == nil then
  return waitingFor(generation)
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  return waitingFor(generation)
end

local gates = ""
if present(status.gatesPassed) then
  gates = ": " .. status.gatesPassed .. " gates pass"
end

local complete = findCondition(status, "Complete")
local isComplete = status.complete == true
if status.complete == nil and complete ~= nil then
  isComplete = complete.status == "True"
end

if isComplete then
  local lapses = ""
  if present(status.expiresAt) then
    lapses = "; evidence valid until " .. status.expiresAt
  end
  return {status = "Healthy", message = "Complete" .. gates .. lapses}
end

local failing = {}
if status.gates ~= nil then
  for _, gate in ipairs(status.gates) do
    if gate.passed ~= true then
      table.insert(failing, gate.name)
    end
  end
end
if #failing > 0 then
  return {status = "Healthy", message = "Incomplete" .. gates .. "; failing: " .. table.concat(failing, ", ")}
end
if complete ~= nil and present(complete.message) then
  return {status = "Healthy", message = "Incomplete: " .. complete.message}
end
return {status = "Healthy", message = "Incomplete" .. gates}
