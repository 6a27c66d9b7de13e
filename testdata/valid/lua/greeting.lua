-- A module found through lua-prepend-path.
local M = {}
function M.greet(name) return "hello " .. name end
return M
