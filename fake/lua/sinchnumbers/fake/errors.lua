-- Responses in the shapes Sinch uses: JSON bodies, and the Google-style error
-- object {"error":{"code":<int>,"message":...,"status":...,"details":[...]}}.
local json = require "sinchnumbers.fake.json"

local errors = {}

-- The status names Sinch (a gRPC-transcoding gateway) puts beside each HTTP code.
local STATUS_NAMES = {
  [400] = "INVALID_ARGUMENT", [401] = "UNAUTHENTICATED", [403] = "PERMISSION_DENIED",
  [404] = "NOT_FOUND", [405] = "UNIMPLEMENTED", [409] = "ALREADY_EXISTS",
  [429] = "RESOURCE_EXHAUSTED", [499] = "CANCELLED", [500] = "INTERNAL",
  [501] = "UNIMPLEMENTED", [502] = "UNAVAILABLE", [503] = "UNAVAILABLE",
  [504] = "DEADLINE_EXCEEDED",
}

function errors.json_response(status, value, headers)
  headers = headers or {}
  headers["Content-Type"] = "application/json"
  return { status = status, headers = headers, body = json.encode(value) }
end

-- An error response for any HTTP status; `details` defaults to [], and the
-- status name to the one Sinch puts beside `status`.
function errors.response(status, message, details, headers, status_name)
  return errors.json_response(status, {
    error = {
      code = status,
      message = message,
      status = status_name or STATUS_NAMES[status] or (status >= 500 and "INTERNAL" or "UNKNOWN"),
      details = json.array(details),
    },
  }, headers)
end

-- 400 with a BadRequest detail; `violations` is an array of {field, description}.
function errors.invalid_argument(violations)
  local first = violations[1]
  local message = first.field .. ": " .. first.description
  if #violations > 1 then message = message .. string.format(" (and %d more)", #violations - 1) end
  return errors.response(400, message, {
    { type = "BadRequest", fieldViolations = json.array(violations) },
  })
end

-- 400 FAILED_PRECONDITION: the request is well formed but the state refuses
-- it. `violations` is an array of {type, subject, description}, the
-- PreconditionFailure detail's.
function errors.failed_precondition(message, violations)
  return errors.response(400, message, {
    { type = "PreconditionFailure", violations = json.array(violations) },
  }, nil, "FAILED_PRECONDITION")
end

-- 404 for a named resource, with the ResourceInfo detail Sinch sends.
function errors.not_found(resource_type, resource_name, message)
  return errors.response(404, message or string.format("%s %s not found", resource_type, resource_name), {
    {
      type = "ResourceInfo",
      resourceType = resource_type,
      resourceName = resource_name,
      owner = "",
      description = "",
    },
  })
end

return errors
