-- wrk request mix: POST each SPARQL query of a file (one form-encoded body per line) in turn.
-- Each wrk thread starts at its own offset, so threads do not send the same query at the same moment.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local bodies = {}
local next_index = 1

function init(args)
  for line in io.lines(args[1]) do
    table.insert(bodies, line)
  end
  next_index = (offset * 7919) % #bodies + 1
end

function request()
  local body = bodies[next_index]
  next_index = next_index % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Accept"] = "application/sparql-results+json, text/turtle;q=0.9",
  }, body)
end
