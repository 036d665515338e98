-- multipart/form-data request bodies (RFC 7578): the boundary from the
-- Content-Type, then each part's headers (Content-Disposition's name and
-- filename, Content-Type) and its bytes, exactly as sent.
local multipart = {}

-- The boundary parameter of a multipart/form-data Content-Type, or nil and why not.
function multipart.boundary(content_type)
  if not content_type or not content_type:lower():match("^%s*multipart/form%-data%s*;") then
    return nil, string.format('must be "multipart/form-data; boundary=..." for an upload, not "%s"',
      tostring(content_type))
  end
  local boundary = content_type:match('[;%s][Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]="([^"]+)"')
    or content_type:match("[;%s][Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]=([^;%s]+)")
  if not boundary or #boundary > 70 then return nil, "needs a boundary parameter of 1 to 70 characters" end
  return boundary
end

-- Content-Disposition: form-data; name="file"; filename="passport.pdf"
local function disposition_parameter(value, name)
  return value:match(';%s*' .. name .. '="([^"]*)"') or value:match(';%s*' .. name .. '=([^;%s"]+)')
end

-- A part: header lines, a blank line, the data (a part without headers
-- starts with the blank line).
local function parse_part(text)
  local head, data = "", text:sub(3)
  if text:sub(1, 2) ~= "\r\n" then
    local head_end = text:find("\r\n\r\n", 1, true)
    if not head_end then return nil, "a part has no blank line after its headers" end
    head, data = text:sub(1, head_end - 1), text:sub(head_end + 4)
  end
  local headers = {}
  for line in head:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if not name then return nil, string.format('a part has a malformed header line "%s"', line) end
    headers[name:lower()] = value
  end
  local disposition = headers["content-disposition"]
  if not disposition or not disposition:lower():match("^form%-data%s*;") then
    return nil, 'a part needs "Content-Disposition: form-data; name=..."'
  end
  local name = disposition_parameter(disposition, "name")
  if not name then return nil, "a part's Content-Disposition has no name" end
  return {
    name = name,
    filename = disposition_parameter(disposition, "filename"),
    content_type = headers["content-type"],
    data = data,
  }
end

-- Splits `body` at `boundary`. Returns the parts, in order
-- ({ name, filename, content_type, data }), or nil and what is wrong.
function multipart.parse(body, boundary)
  local delimiter = "--" .. boundary
  local position = body:sub(1, #delimiter) == delimiter and 1 or body:find("\r\n" .. delimiter, 1, true)
  if not position then return nil, "the body does not contain the boundary" end
  if position > 1 then position = position + 2 end -- a preamble, ignored
  local parts = {}
  while true do
    local after = position + #delimiter
    if body:sub(after, after + 1) == "--" then return parts end
    if body:sub(after, after + 1) ~= "\r\n" then return nil, "a boundary line must end with CRLF" end
    local next_delimiter = body:find("\r\n" .. delimiter, after + 2, true)
    if not next_delimiter then return nil, "the body ends before the closing boundary" end
    local part, err = parse_part(body:sub(after + 2, next_delimiter - 1))
    if not part then return nil, err end
    parts[#parts + 1] = part
    position = next_delimiter + 2
  end
end

return multipart
