-- wrk: requests to the application runtime's data API (or the benchmark-only routes beside
-- it), the paths of a file in turn, with the bearer token read from a file (never on wrk's
-- command line), an optional JSON body and extra headers.
-- wrk -s apps.lua URL -- TOKEN_FILE|- METHOD PATHS_FILE BODY_FILE|- ["Name: value" …]
local paths, i, method, body = {}, 0, "GET", nil
function init(args)
  if args[1] ~= "-" then
    local f = assert(io.open(args[1]))
    wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
    f:close()
  end
  method = args[2]
  for line in io.lines(args[3]) do
    paths[#paths + 1] = line
  end
  if args[4] ~= "-" then
    local f = assert(io.open(args[4]))
    body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
  end
  for k = 5, #args do
    local name, value = args[k]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end
function request()
  i = i % #paths + 1
  return wrk.format(method, paths[i], nil, body)
end
