-- Argo CD health check for tierwall.dev/AppIsolation.
--
-- Install it as resource.customizations.health.tierwall.dev_AppIsolation in
-- argocd-cm (see argocd-cm.yaml next to this file and docs/gitops.md).
--
-- tierwall reports kstatus conditions: Ready (always present once
-- reconciled), Reconciling and Stalled (present only while True), and
-- status.observedGeneration, which moves only on success or on an error that
-- a retry cannot fix. Hence:
--   Progressing  no status yet, observedGeneration behind metadata.generation,
--                Reconciling=True (a retryable error), or Ready Unknown
--   Degraded     Stalled=True, or Ready=False while not reconciling
--   Healthy      Ready=True at the current generation; status.warnings (a
--                selector that matches nothing, a foreign policy that opens
--                the app) is appended to the message, since tierwall's own
--                policies are in force and nothing is left to wait for
--
-- Argo CD runs this without Lua's string library: only base and table
-- functions are available.

local hs = {}

local function condition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    return reason .. ": " .. c.message
  end
  return reason
end

local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for tierwall to reconcile the AppIsolation"
  return hs
end

local generation = obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  local reconciling = condition(status.conditions, "Reconciling")
  if reconciling ~= nil and reconciling.status == "True" then
    hs.message = describe(reconciling)
  else
    hs.message = "Waiting for tierwall to reconcile generation " .. generation
  end
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local reconciling = condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  if status.warnings ~= nil and status.warnings ~= "" then
    hs.message = hs.message .. ". Warnings: " .. status.warnings .. " (see the conditions)"
  end
  return hs
end
hs.status = "Degraded"
hs.message = describe(ready)
return hs
