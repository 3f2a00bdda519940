-- Helpers for lua/stamp.lua, loaded with require("stamp_util") from lua/lib/.
local M = {}

function M.millis(seconds)
  return string.format("%d", math.floor(seconds * 1000 + 0.5))
end

return M
