-- How answers are shown: an aligned table for people, --csv with a header
-- row, --json as exactly one JSON document with the API's own field names.
-- Data only: messages, prompts and progress go to stderr elsewhere.
local json = require "sinchnumbers.json"

local output = {}

local null = json.null

local function field(object, path)
  local value = object
  for name in path:gmatch("[^.]+") do
    if type(value) ~= "table" then return nil end
    value = value[name]
  end
  if value == null then return nil end
  return value
end

local function text(name)
  return function(row)
    local value = field(row, name)
    return value ~= nil and tostring(value) or ""
  end
end

local function list(name)
  return function(row)
    local value = field(row, name)
    return type(value) == "table" and table.concat(value, ",") or ""
  end
end

-- "0.80 USD" from a Money object ({ amount, currencyCode }).
local function money_words(amount)
  if type(amount) ~= "table" or amount.amount == nil then return "" end
  return tostring(amount.amount) .. " " .. tostring(field(amount, "currencyCode") or "")
end

local function money(name)
  return function(row) return money_words(field(row, name)) end
end

local function months_words(value)
  return ("%d month%s"):format(value, value == 1 and "" or "s")
end

local function months(row)
  local value = field(row, "paymentIntervalMonths")
  if value == nil then return "" end
  return months_words(value)
end

--- A price in words, for the question before renting: "setup 0.00 USD,
-- monthly 0.80 USD, billed every 1 month", from an available number (or a
-- number order's numberPrice).
function output.price(object)
  return ("setup %s, monthly %s, billed every %s"):format(money_words(object.setupPrice),
    money_words(object.monthlyPrice), months_words(tonumber(object.paymentIntervalMonths) or 1))
end

local function yes_no(name)
  return function(row)
    local value = field(row, name)
    if value == nil then return "" end
    return value and "yes" or "no"
  end
end

-- Each view: its columns ({ header, cell(row) }), and `hidden`, fields
-- whose values are never shown, in any format.
output.VIEWS = {
  region = { columns = {
    { "REGION", text "regionCode" }, { "NAME", text "regionName" }, { "TYPES", list "types" },
  } },
  available = { columns = {
    { "NUMBER", text "phoneNumber" }, { "TYPE", text "type" }, { "CAPABILITIES", list "capability" },
    { "SETUP", money "setupPrice" }, { "MONTHLY", money "monthlyPrice" }, { "BILLED EVERY", months },
    { "DOCUMENTS", yes_no "supportingDocumentationRequired" },
  } },
  active = { columns = {
    { "NUMBER", text "phoneNumber" }, { "NAME", text "displayName" }, { "TYPE", text "type" },
    { "CAPABILITIES", list "capability" }, { "MONTHLY", money "money" }, { "NEXT CHARGE", text "nextChargeDate" },
  } },
  callbacks = {
    columns = { { "PROJECT", text "projectId" }, { "HMAC SECRET", text "hmacSecret" } },
    hidden = { hmacSecret = "(set, not shown)" },
  },
  bulk = { columns = {
    { "NUMBER", text "phoneNumber" }, { "RESULT", text "result" }, { "RENTED", text "rented" },
    { "ERROR", text "error" },
  } },
}

-- A copy of the answer with the hidden fields' values replaced.
local function without_hidden(view, value)
  if not view.hidden or type(value) ~= "table" then return value end
  local copy = {}
  for name, item in pairs(value) do
    copy[name] = view.hidden[name] and item ~= "" and item ~= null and view.hidden[name] or item
  end
  return copy
end

-- "fields": any object as FIELD VALUE rows, nested names joined by dots,
-- lists of plain values joined by commas; in name order.
local function flattened(object, prefix, rows)
  local names = {}
  for name in pairs(object) do names[#names + 1] = name end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  for _, name in ipairs(names) do
    local value, path = object[name], prefix .. tostring(name)
    if type(value) == "table" then
      local plain = #value > 0
      for _, item in ipairs(value) do plain = plain and type(item) ~= "table" end
      if plain then
        rows[#rows + 1] = { path, table.concat(value, ",") }
      elseif next(value) ~= nil then
        flattened(value, path .. ".", rows)
      end
    elseif value ~= null then
      rows[#rows + 1] = { path, tostring(value) }
    end
  end
  return rows
end

-- The header and the rows of cells of a view for a list of answers.
local function cells(view_name, items)
  local view = output.VIEWS[view_name]
  if not view then
    local rows = {}
    for _, item in ipairs(items) do flattened(item, "", rows) end
    return { "FIELD", "VALUE" }, rows
  end
  local header, rows = {}, {}
  for i, column in ipairs(view.columns) do header[i] = column[1] end
  for _, item in ipairs(items) do
    local row, shown = {}, without_hidden(view, item)
    for i, column in ipairs(view.columns) do row[i] = column[2](shown) end
    rows[#rows + 1] = row
  end
  return header, rows
end

-- The rows to print: the header row first, unless --no-header.
local function printed_rows(header, rows, with_header)
  local all = with_header and { header } or {}
  for _, row in ipairs(rows) do all[#all + 1] = row end
  return all
end

local function aligned(header, rows, with_header)
  local widths = {}
  local all = printed_rows(header, rows, with_header)
  for _, row in ipairs(all) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #cell) end
  end
  local lines = {}
  for _, row in ipairs(all) do
    local padded = {}
    for i, cell in ipairs(row) do
      padded[i] = i < #row and cell .. string.rep(" ", widths[i] - #cell) or cell
    end
    lines[#lines + 1] = (table.concat(padded, "  "):gsub("%s+$", ""))
  end
  return lines
end

local function csv_cell(cell)
  if cell:find('[",\r\n]') or cell:find("^%s") or cell:find("%s$") then
    return '"' .. cell:gsub('"', '""') .. '"'
  end
  return cell
end

local function csv(header, rows, with_header)
  local lines = {}
  for _, row in ipairs(printed_rows(header, rows, with_header)) do
    local quoted = {}
    for i, cell in ipairs(row) do quoted[i] = csv_cell(cell) end
    lines[#lines + 1] = table.concat(quoted, ",")
  end
  return lines
end

-- The text for stdout. `answer` is one object, or a list of them when
-- `is_list`; format is "table", "csv" or "json".
function output.render(answer, view_name, format, options)
  local view = output.VIEWS[view_name] or {}
  local items = options.is_list and answer or { answer }
  if format == "json" then
    if not options.is_list then return assert(json.encode(without_hidden(view, answer))) .. "\n" end
    -- cjson writes an empty table as {}.
    if #items == 0 then return "[]\n" end
    local shown = {}
    for i, item in ipairs(items) do shown[i] = without_hidden(view, item) end
    return assert(json.encode(shown)) .. "\n"
  end
  local header, rows = cells(view_name, items)
  local lines = (format == "csv" and csv or aligned)(header, rows, options.header)
  if #lines == 0 then return "" end
  return table.concat(lines, "\n") .. "\n"
end

return output
