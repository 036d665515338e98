-- busted's helper (.busted): the specs need the C modules (sinchnumbers.codec,
-- sinchnumbers.transport.libcurl) built for the Lua that runs them; say what
-- to type rather than list every folder searched.
for _, name in ipairs { "sinchnumbers.codec", "sinchnumbers.transport.libcurl" } do
  local built, err = pcall(require, name)
  if not built then
    local lua = rawget(_G, "jit") and "luajit" or _VERSION:match("%d+%.%d+")
    io.stderr:write(name, " is not built for this Lua: run `make LUA_VERSION=", lua,
      "` (or `make build-all`) first\n  (", tostring(err):match("^[^\n]*"), ")\n")
    os.exit(1)
  end
end
