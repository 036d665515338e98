-- Checks the links of the generated docs (make docs runs it):
--
--   lua5.4 tools/check-links.lua docs/index.html docs/modules/*.html ...
--
-- Every link without a scheme (href="#x", href="page.html#x",
-- href="../../examples/x.lua") must name a file or folder that exists,
-- relative to the page, and its #fragment an id or name in that page.
-- Prints one line per broken link; exits 1 if there is one.

local function read(path)
  local file = io.open(path, "rb")
  if not file then return nil end
  local text = file:read("*a")
  file:close()
  return text
end

local function exists(path)
  local file = io.open(path, "rb")
  if file then file:close() return true end
  return os.rename(path, path) ~= nil   -- a folder cannot be opened everywhere, but renamed onto itself
end

-- "docs/topics/../modules/x.html" -> "docs/modules/x.html"
local function normalize(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then table.remove(parts)
    elseif part ~= "." then parts[#parts + 1] = part end
  end
  return (path:sub(1, 1) == "/" and "/" or "") .. table.concat(parts, "/")
end

local anchors_of = {}   -- page -> set of its ids and names
local function anchors(page)
  if not anchors_of[page] then
    local set = {}
    local text = read(page) or ""
    for attribute in ("id name"):gmatch("%a+") do
      for anchor in text:gmatch("%s" .. attribute .. '%s*=%s*"([^"]*)"') do set[anchor] = true end
    end
    anchors_of[page] = set
  end
  return anchors_of[page]
end

local broken = 0
for _, page in ipairs(arg) do
  local text = assert(read(page), "cannot read " .. page)
  local folder = page:match("^(.*/)") or ""
  for href in text:gmatch('%shref%s*=%s*"([^"]*)"') do
    if not href:match("^%a[%w+.-]*:") then
      local target, fragment = href:match("^([^#]*)#?(.*)$")
      local path = target == "" and page or normalize(folder .. target)
      local problem
      if not exists(path) then
        problem = "no such file " .. path
      elseif fragment ~= "" and path:match("%.html$") and not anchors(path)[fragment] then
        problem = "no id or name \"" .. fragment .. "\" in " .. path
      end
      if problem then
        print(("%s: broken link %s: %s"):format(page, href, problem))
        broken = broken + 1
      end
    end
  end
end
if broken > 0 then
  print(("%d broken links"):format(broken))
  os.exit(1)
end
