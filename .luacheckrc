-- One source for Lua 5.1 to 5.4 and LuaJIT: allow what any of them defines.
std = "max"
max_line_length = 120
exclude_files = { "build/", "docs/" }

files["spec/"] = { std = "+busted" }
-- nginx handlers and the cosocket transport run inside OpenResty.
files["lua/sinchnumbers/transport/ngx.lua"] = { read_globals = { "ngx" } }
files["lua/sinchnumbers/tasks/ngx.lua"] = { read_globals = { "ngx" } }
files["examples/openresty/"] = { read_globals = { "ngx" } }
files["spec/openresty/"] = { read_globals = { "ngx" } }
