-- Services, actions, a fetch and a converter for testdata/compat/lua.txt.
-- Each service sets at most one header of its own: haproxy emits a
-- service's headers in the order of a Lua table, which varies.

core.register_service("hello", "http", function(applet)
  local body = "hello " .. applet.method .. " " .. applet.path .. " [" .. applet.qs .. "] " .. applet.version .. "\n"
  local names = {}
  for name, values in pairs(applet.headers) do
    table.insert(names, name .. "=" .. values[0])
  end
  table.sort(names)
  body = body .. table.concat(names, ",") .. "\n"
  applet:set_status(201)
  applet:add_header("Content-Length", string.len(body))
  applet:start_response()
  applet:send(body)
end)

core.register_service("chunks", "http", function(applet)
  applet:set_status(200, "Fine")
  applet:add_header("content-type", "text/plain")
  applet:start_response()
  applet:send("part one\n")
  applet:send("part two\n")
end)

core.register_service("status", "http", function(applet)
  applet:set_status(tonumber(applet.qs))
  applet:add_header("content-length", "0")
  applet:start_response()
end)

core.register_service("broken", "http", function(applet)
  applet:send("no start_response")
end)

core.register_action("tag", {"http-req"}, function(txn, value)
  txn.http:req_set_header("X-Tag", value .. " " .. txn.f:path() .. " " .. txn.sf:req_hdr("host") .. " " .. tostring(txn.f:hdr("x-dup")))
  txn.http:req_del_header("x-secret")
  txn.http:req_set_path("/tagged" .. txn.f:path())
end, 1)

core.register_action("deny", {"http-req"}, function(txn) return act.DENY end)

core.register_action("reply", {"http-req"}, function(txn)
  txn:done({status = 418, headers = {["x-reply"] = {"yes"}}, body = "short and stout\n"})
end)

core.register_fetches("twice", function(txn, s) return s .. s end)

core.register_converters("rev", function(s) return string.reverse(s) end)

-- Variables: what the configuration set is read, what the script sets is
-- read back by the configuration.
core.register_action("vars", {"http-req"}, function(txn)
  local cfg = txn:get_var("txn.cfg")
  txn:set_var("txn.lua", "seen " .. tostring(cfg))
  txn:set_var("req.num", 40 + 2)
  txn:set_var("txn.unused", "x", true)
  txn.http:req_set_header("x-lua-vars", tostring(txn:get_var("req.num")) .. " " .. tostring(txn:get_var("txn.unused")) .. " " .. tostring(txn:get_var("txn.none")))
end)

-- The configuration's proxies and servers, sorted: core.backends and
-- core.frontends with ids, capabilities, modes and statuses.
core.register_service("proxies", "http", function(applet)
  local out = {}
  for name, be in pairs(core.backends) do
    local servers = {}
    for sname, srv in pairs(be.servers) do
      table.insert(servers, sname .. "=" .. srv:get_stats()["status"] .. "/" .. srv.puid .. "/" .. srv:get_weight())
    end
    table.sort(servers)
    table.insert(out, name .. ":" .. be.uuid .. ":" .. be:get_cap() .. ":" .. be:get_mode() .. ":" .. be:get_stats()["status"] .. "[" .. table.concat(servers, ",") .. "]")
  end
  for name, fe in pairs(core.frontends) do
    table.insert(out, "frontend " .. name .. ":" .. fe.uuid .. ":" .. fe:get_cap() .. ":" .. fe:get_stats()["status"])
  end
  table.sort(out)
  local body = table.concat(out, "\n") .. "\n"
  applet:set_status(200)
  applet:add_header("content-length", #body)
  applet:start_response()
  applet:send(body)
end)
