--[[
The cosocket transport's response reader (lua/sinchnumbers/transport/ngx.lua),
fuzzed in plain Lua: its stages run over a fake socket that hands out the
input in pieces of varying size, under a minimal fake `ngx` (update_time, now)
whose clock moves on with every read.

  luajit fuzz/cosocket_reader.lua SECONDS CORPUS_DIR [ARTIFACT_DIR]

Inputs are the committed response corpus (fuzz/corpus/response/, the libFuzzer
harness's format: byte 0 picks the body cap, byte 1 the piece sizes, byte 2 is
unused here, the rest is the response), each once as it is, then mutations of
them (bytes flipped, inserted, removed, repeated, tokens that break framing:
chunk sizes such as "zz", "-5" or 20 hex digits, folded lines, long runs of
spaces, a second head) until SECONDS have passed. FUZZ_SEED fixes the
mutations (default: the time); FUZZ_MAX_RUNS bounds their number.

Properties, for every input:
  - nothing raises: read_response returns status, headers, body, keepalive or
    nil and a reason (a string);
  - nothing loops: it returns within #input + 2 socket reads (each read gives
    at least one byte, and after the end of input one failed read must do),
    and within a second of CPU time;
  - a body is never larger than the cap, a status is three digits, header
    names are lower-case strings and values strings;
  - the line parsers alone (status line, header line, chunk size) never raise
    on any line, and a chunk size is a whole number from 0 to 0xffffffff.
A failing input is written to ARTIFACT_DIR (default build/fuzz/artifacts/
cosocket_reader/) in the corpus format, and the run exits with 1.
]]
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
-- The transport checks its options with the contract, which loads the C
-- codec (through validate and json): the one `make` built for this Lua.
local build = rawget(_G, "jit") and "luajit" or _VERSION:match("%d+%.%d+")
package.cpath = "build/" .. build .. "/?.so;" .. package.cpath

local seconds = tonumber(arg[1]) or 10
local corpus_dir = arg[2] or "fuzz/corpus/response"
local artifact_dir = arg[3] or "build/fuzz/artifacts/cosocket_reader"
local max_runs = tonumber(os.getenv("FUZZ_MAX_RUNS") or "") or 10000000
local seed = tonumber(os.getenv("FUZZ_SEED") or "") or os.time()

local clock = 1000000
-- luacheck: globals ngx
ngx = {
  update_time = function() end,
  now = function() return clock end,
}

local reader_stages = require("sinchnumbers.transport.ngx")._reader

local random = math.random
math.randomseed(seed)

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local function corpus(dir)
  local entries = {}
  local listing = assert(io.popen("ls " .. dir))
  for name in listing:lines() do entries[#entries + 1] = read_file(dir .. "/" .. name) end
  listing:close()
  assert(#entries > 0, "no inputs in " .. dir)
  return entries
end

--- The fake socket ---------------------------------------------------------

-- Hands out `data` in pieces: sizes alternate between two values from
-- `sizes_byte` (1 to 16 bytes, or whatever is asked when the byte is 0xff),
-- and at the end says "closed" (or, when `ends_in_timeout`, "timeout").
local function fake_socket(data, sizes_byte, ends_in_timeout)
  local first, second = sizes_byte % 16 + 1, math.floor(sizes_byte / 16) + 1
  local sock = { reads = 0, position = 1, turn = 0 }
  function sock.settimeout() end
  function sock.receiveany(self, size)
    self.reads = self.reads + 1
    if self.reads > #data + 2 then error("looped: more socket reads than the input has bytes", 0) end
    clock = clock + 0.001
    if self.position > #data then
      if ends_in_timeout then return nil, "timeout" end
      return nil, "closed"
    end
    self.turn = self.turn + 1
    local piece = sizes_byte == 255 and size or (self.turn % 2 == 1 and first or second)
    piece = math.min(piece, size)
    local text = data:sub(self.position, self.position + piece - 1)
    self.position = self.position + #text
    return text
  end
  return sock
end

--- One input ------------------------------------------------------------------

local METHODS = { "GET", "POST", "HEAD", "PATCH" }

-- Runs one input; returns nil, or what went wrong.
local function check_input(input)
  if #input < 3 then return nil end
  local cap = input:byte(1) % 64 == 0 and 8 * 1024 * 1024 or input:byte(1) * 4 + 1
  local sizes_byte = input:byte(2)
  local response = input:sub(4)
  local method = METHODS[input:byte(3) % #METHODS + 1]
  local sock = fake_socket(response, sizes_byte, input:byte(3) >= 128)
  local reader = reader_stages.new(sock, clock + 30, 10)
  local started = os.clock()
  local ok, status, headers, body, keepalive = pcall(reader_stages.read_response, reader, method, cap)
  local spent = os.clock() - started
  if not ok then return "raised: " .. tostring(status) end
  if spent > 1 then return ("took %.2f s of CPU"):format(spent) end
  if status == nil then
    if type(headers) ~= "string" then return "failed without a reason: " .. tostring(headers) end
    return nil
  end
  if type(status) ~= "number" or status < 100 or status > 999 then return "bad status " .. tostring(status) end
  if type(headers) ~= "table" then return "headers not a table" end
  for name, value in pairs(headers) do
    if type(name) ~= "string" or name:lower() ~= name or type(value) ~= "string" then
      return "bad header " .. tostring(name)
    end
  end
  if type(body) ~= "string" then return "body not a string" end
  if #body > cap then return ("body of %d bytes passed the cap of %d"):format(#body, cap) end
  if type(keepalive) ~= "boolean" then return "keepalive not a boolean" end
  return nil
end

-- The line parsers alone, on the input's lines.
local function check_lines(input)
  for line in input:gmatch("[^\n]*") do
    local ok, problem = pcall(function()
      reader_stages.parse_status_line(line)
      reader_stages.parse_header_line(line)
      local size, reason = reader_stages.parse_chunk_size(line)
      if size == nil then
        assert(reason == "bad chunk size line" or reason == "too_large", "chunk size: no reason")
      else
        assert(size >= 0 and size <= 0xffffffff and size == math.floor(size), "chunk size out of range")
      end
    end)
    if not ok then return ("a line parser failed on %q: %s"):format(line:sub(1, 80), tostring(problem)) end
  end
  return nil
end

--- Mutations ------------------------------------------------------------------

local TOKENS = {
  "\r\n", "\n", "\r", " ", "\t", ":", ";", "0", "zz", "-5", "ffffffffffffffffffff", "00000000000000001",
  "7fffffff", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n", "HTTP/1.0 204 No Content\r\n",
  "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip\r\n", "Content-Length: 99999999999999999999\r\n",
  "Content-Length: -1\r\n", "Content-Length: 3\r\n", "Connection: close\r\n", "Connection: keep-alive\r\n",
  "\r\n\r\n", " folded\r\n",
  "X: a" .. string.rep(" ", 30000) .. "b\r\n",
  " \t" .. string.rep(" ", 30000) .. "c\r\n", "zz\r\n", "-5\r\n", "5;ext=1\r\nhello\r\n",
  "0\r\n\r\n", "0\r\nTrailer: x\r\n\r\n",
}

local function mutate(text, entries)
  local choice = random(1, 7)
  local at = random(1, #text + 1)
  if choice == 1 and #text > 0 then -- flip a byte
    local i = random(1, #text)
    return text:sub(1, i - 1) .. string.char(random(0, 255)) .. text:sub(i + 1)
  elseif choice == 2 then -- a token that breaks framing
    return text:sub(1, at - 1) .. TOKENS[random(1, #TOKENS)] .. text:sub(at)
  elseif choice == 3 then -- remove a range
    return text:sub(1, at - 1) .. text:sub(at + random(1, 32))
  elseif choice == 4 then -- repeat a range
    local piece = text:sub(at, at + random(1, 64))
    return text:sub(1, at - 1) .. piece:rep(random(2, 8)) .. text:sub(at)
  elseif choice == 5 then -- cut short
    return text:sub(1, at)
  elseif choice == 6 then -- splice another input's tail on
    local other = entries[random(1, #entries)]
    return text:sub(1, at - 1) .. other:sub(random(4, math.max(4, #other)))
  end
  -- a chunked answer with a made-up size line
  local sizes = { "zz", "-5", "5", "  a  ", "ffffffffffffffffffff", "0x10", "", "1;", "3 junk" }
  return "\0\0\0HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" .. sizes[random(1, #sizes)]
    .. "\r\n" .. text:sub(4, 40) .. "\r\n0\r\n\r\n"
end

-- A mutated input keeps the three leading bytes of the corpus format, some
-- new ones now and then.
local function fresh_input(entries)
  local input = entries[random(1, #entries)]
  for _ = 1, random(1, 4) do input = mutate(input, entries) end
  if #input < 3 or random(1, 4) == 1 then
    input = string.char(random(0, 255), random(0, 255), random(0, 255)) .. input:sub(4)
  end
  return input
end

--- The run -------------------------------------------------------------------

local function save(input)
  os.execute("mkdir -p '" .. artifact_dir .. "'")
  local path = ("%s/crash-%d-%d"):format(artifact_dir, seed, math.floor(os.clock() * 1000))
  local file = assert(io.open(path, "wb"))
  file:write(input)
  file:close()
  return path
end

local entries = corpus(corpus_dir)
local started = os.time()
local runs = 0

local function run(input)
  runs = runs + 1
  local problem = check_input(input) or check_lines(input:sub(4))
  if problem then
    print(("fuzz cosocket_reader: property does not hold (seed %d, run %d): %s; input in %s")
      :format(seed, runs, problem, save(input)))
    os.exit(1)
  end
end

for _, input in ipairs(entries) do run(input) end
local seeds = runs
while runs < max_runs and os.time() - started < seconds do
  for _ = 1, 100 do run(fresh_input(entries)) end
end
print(("stat::number_of_executed_units: %d"):format(runs))
print(("fuzz cosocket_reader: %d seeds, %d runs, seed %d"):format(seeds, runs, seed))
