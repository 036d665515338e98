-- The library's version, in one place: sinchnumbers._VERSION, the User-Agent
-- (transport/contract.lua) and make dist (tools/dist.sh) read it from here.
return "0.1.0"
