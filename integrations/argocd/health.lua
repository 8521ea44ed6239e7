-- Argo CD health check for MeetingRoom and MeetingTheme
-- (resource.customizations.health.meetings.vonage.com_MeetingRoom and
-- resource.customizations.health.meetings.vonage.com_MeetingTheme).
-- Reads the kstatus conditions the operator writes: Stalled is Degraded,
-- Reconciling (or a generation not yet observed) is Progressing, Ready is
-- Healthy; an object paused by meetings.vonage.com/paused is Suspended.
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }

local function condition(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.reason .. ": " .. c.message
  end
  return c.reason
end

if obj.metadata.annotations ~= nil and obj.metadata.annotations["meetings.vonage.com/paused"] == "true" then
  hs.status = "Suspended"
  hs.message = "Paused by the annotation meetings.vonage.com/paused"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = obj.status.conditions
local stalled = condition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
  return hs
end
if ready ~= nil then
  hs.message = describe(ready)
end
return hs
