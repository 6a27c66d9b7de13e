-- a service whose body has a syntax error on line 4
core.register_service("hello", "http", function(applet)
  local n = 1 +
end)
