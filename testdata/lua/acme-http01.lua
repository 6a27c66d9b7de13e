-- An ACME http-01 responder in the way of the acme-http01-webroot.lua
-- scripts real configurations load (corpus 088, 119, 144, 147): it answers
-- /.well-known/acme-challenge/TOKEN from a webroot, here $ACME_WEBROOT.
--
--   http-request use-service lua.acme-http01 if METH_GET url_acme_http01

local webroot = os.getenv("ACME_WEBROOT") or "/var/tmp"

local function key_authorization(token)
  -- A token is one path segment: no way out of the challenge folder.
  if token == nil or token == "" or token:find("[/\\]") or token:find("^%.") then
    return nil
  end
  local f = io.open(webroot .. "/.well-known/acme-challenge/" .. token, "rb")
  if f == nil then
    return nil
  end
  local content = f:read("*a")
  f:close()
  return content
end

local function http01(applet)
  local token = applet.path:match("/([^/]*)$")
  local auth = key_authorization(token)
  local body
  if auth ~= nil and #auth > 0 then
    applet:set_status(200)
    body = auth
    core.Info("acme: served token " .. token .. " to " .. applet.sf:src())
  else
    applet:set_status(404)
    body = "resource not found\n"
    core.Warning("acme: no token " .. tostring(token))
  end
  applet:add_header("Server", "haproxy/acme-http01-authenticator")
  applet:add_header("Content-Length", string.len(body))
  applet:add_header("Content-Type", "text/plain")
  applet:start_response()
  applet:send(body)
end

core.register_init(function() core.Info("acme: http-01 responder, webroot " .. webroot) end)
core.register_service("acme-http01", "http", http01)
