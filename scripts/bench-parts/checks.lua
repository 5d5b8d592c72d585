-- wrk: POST /api/v1/authz/check with the bodies of a pool file (one JSON object a line), in
-- turn, with the bearer token read from a file (never on wrk's command line).
-- wrk -s checks.lua URL -- BODIES TOKEN_FILE
local bodies, i = {}, 0
function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  local f = assert(io.open(args[2]))
  local token = f:read("*l")
  f:close()
  -- Passing a header table to wrk.format would replace wrk.headers (Host among them).
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/api/v1/authz/check", nil, bodies[i])
end
