-- multipart/form-data bodies (RFC 7578) of one file part, for attachment
-- uploads. The boundary is new for every body and checked against the
-- file's bytes: a boundary that occurs in them would end the part early.
local codec = require "sinchnumbers.codec"

local concat, find = table.concat, string.find

local multipart = {}

-- A boundary that the data has is drawn again, this many times in all;
-- with 160 random-looking bits each, only a test's own drawing repeats.
local BOUNDARY_DRAWS = 8

-- What the boundaries of this process are made from: its own address and
-- time, and a count, hashed, so no two bodies share a boundary.
local boundary_seed = tostring({}) .. ":" .. os.time() .. ":" .. os.clock()
local boundaries_drawn = 0

-- A new boundary: "sinchnumbers-" and 40 hex digits (53 characters, within
-- RFC 2046's 70).
function multipart.new_boundary()
  boundaries_drawn = boundaries_drawn + 1
  return "sinchnumbers-" .. codec.hmac_sha1_hex(boundary_seed, tostring(boundaries_drawn))
end

-- The body of one part named `part_name` holding `file` ({ name,
-- content_type, data }, checked already: the name has no quote and no line
-- break), and its Content-Type; or nil and what went wrong. `new_boundary`
-- (optional, for tests) draws the boundaries.
function multipart.body(part_name, file, new_boundary)
  new_boundary = new_boundary or multipart.new_boundary
  for _ = 1, BOUNDARY_DRAWS do
    local boundary = new_boundary()
    if not find(file.data, boundary, 1, true) then
      return concat {
        "--", boundary, "\r\n",
        'Content-Disposition: form-data; name="', part_name, '"; filename="', file.name, '"\r\n',
        "Content-Type: ", file.content_type, "\r\n",
        "\r\n",
        file.data, "\r\n",
        "--", boundary, "--\r\n",
      }, "multipart/form-data; boundary=" .. boundary
    end
  end
  return nil, "could not find a multipart boundary that the file's data does not contain ("
    .. BOUNDARY_DRAWS .. " tries)"
end

return multipart
