-- wrk: GET PATH with each request's bearer token the next line of a token file, in turn
-- (one line: one session; 10,000 lines: 10,000 sessions). Tokens never on the command line.
-- wrk -s tokens.lua URL -- TOKEN_FILE PATH
local tokens, i, path = {}, 0, "/"
function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = "Bearer " .. line
  end
  path = args[2]
end
function request()
  i = i % #tokens + 1
  wrk.headers["Authorization"] = tokens[i]
  return wrk.format("GET", path)
end
