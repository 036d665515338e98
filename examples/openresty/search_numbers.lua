-- make examples: skip (needs nginx; spec/openresty_spec.lua runs it)
-- GET /numbers?region=US&type=LOCAL&starts_with=206 answers with the phone
-- numbers Sinch has for rent there, as JSON:
--   {"numbers":[{"phoneNumber":"+12062000803","capabilities":["SMS","VOICE"],
--                "monthlyPrice":"0.80","currency":"USD"}, ...]}
--
-- Called from content_by_lua_block (see nginx.conf beside this file). The
-- client is made by the first request of each worker and kept: it is made in
-- a content handler, so it talks through cosockets and the worker keeps
-- serving other requests while Sinch answers. Every worker takes its access
-- token from the shared dict `sinch_tokens`, so they ask for one together.
-- (ngx.status and ngx.header are meant to be written to.)
-- luacheck: ignore 122
local sinchnumbers = require "sinchnumbers"
local cjson = require "cjson"

local search_numbers = {}

local client

local function get_client()
  if not client then
    -- SINCH_PROJECT_ID, SINCH_KEY_ID, SINCH_KEY_SECRET (and optionally
    -- SINCH_NUMBERS_URL, SINCH_AUTH_URL) reach Lua through nginx's `env`.
    local err
    client, err = sinchnumbers.from_env{ token_cache = ngx.shared.sinch_tokens, timeout = 10 }
    if not client then error(tostring(err)) end
  end
  return client
end

local function answer(status, json)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json)
end

-- Errors the caller can fix are 400; the rest are the upstream's (502/504).
local STATUS_BY_KIND = { invalid_argument = 400, timeout = 504 }

function search_numbers.handle()
  local args = ngx.req.get_uri_args()
  local params = { regionCode = args.region or "US", type = args.type or "LOCAL" }
  if args.starts_with then
    params.numberPattern = { pattern = args.starts_with, searchPattern = "START" }
  end

  local found, err = get_client():list_available_numbers(params)
  if not found then
    -- Error messages name the request, never the credentials or the token.
    ngx.log(ngx.WARN, tostring(err))
    return answer(STATUS_BY_KIND[err.kind] or 502, cjson.encode{ error = err.kind, message = err.message })
  end

  local numbers = {}
  for i, number in ipairs(found.availableNumbers or {}) do
    numbers[i] = {
      phoneNumber = number.phoneNumber,
      capabilities = number.capability,
      monthlyPrice = number.monthlyPrice and number.monthlyPrice.amount,
      currency = number.monthlyPrice and number.monthlyPrice.currencyCode,
    }
  end
  -- Debian's lua-cjson writes an empty table as {}, so an empty list is spelled out.
  answer(200, '{"numbers":' .. (#numbers > 0 and cjson.encode(numbers) or "[]") .. "}")
end

return search_numbers
