-- pulsards' Lua sandbox for scripts: stores/pulsards/commands/scripting.py runs
-- this once per server, passing the Python functions below as its arguments,
-- and gets back compile(body), run(f, KEYS, ARGV) and cjson.null.  call and
-- pcall_ are redis.call and redis.pcall (a ScriptError that call raises
-- reaches Lua as a userdata whose err is the error text: describe
-- reads it); busy() says whether to end the script.  The error handler
-- records the line of the user's code where the error was raised (Redis'
-- __redis__err__handler).
local call, pcall_, describe, busy, sha1hex, log, setresp, json_encode, json_decode = ...
local dbg, select, type, error, pcall = debug, select, type, error, pcall
local tostring, setmetatable, xpcall = tostring, setmetatable, xpcall

local function readonly(t, name)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

local redis = {
  -- Python functions, not Lua wrappers: ``return redis.call(...)`` would be a
  -- tail call of a wrapper, and the user's frame (the error's line) lost.
  call = call,
  pcall = pcall_,
  error_reply = function(e)
    if type(e) ~= 'string' then error('wrong number or type of arguments', 2) end
    if e:sub(1, 1) == '-' then
      local space = e:find(' ', 1, true)
      if space then return {err = e:sub(2, space - 1) .. ' ' .. e:sub(space + 1)} end
      return {err = 'ERR ' .. e:sub(2)}
    end
    return {err = 'ERR ' .. e}
  end,
  status_reply = function(s)
    if type(s) ~= 'string' then error('wrong number or type of arguments', 2) end
    return {ok = s}
  end,
  sha1hex = sha1hex,
  log = log,
  setresp = setresp,
  set_repl = function() end,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
  REDIS_VERSION = '7.0.15', REDIS_VERSION_NUM = 0x07000f,
}

local base = {}
for _, name in ipairs({'assert', 'error', 'getmetatable', 'ipairs', 'next', 'pairs',
                       'rawequal', 'rawget', 'select', 'setmetatable',
                       'tonumber', 'tostring', 'type', 'unpack', 'xpcall',
                       'gcinfo', '_VERSION'}) do
  base[name] = _G[name]
end
-- Redis' pcall: an error raised as {err=...} (redis.call's) comes back as its text.
-- A script must not change what later scripts see: strings' metatable is
-- hidden, and rawset, loadstring (code in the real globals) are left out.
getmetatable('').__metatable = false
base.pcall = function(f, ...)
  local result = {pcall(f, ...)}
  if not result[1] then
    local err = result[2]
    if type(err) == 'userdata' then
      return false, describe(err, false)
    elseif type(err) == 'table' and type(err.err) == 'string' then
      return false, err.err
    end
  end
  return unpack(result, 1, table.maxn(result))
end
local null = newproxy(false)
base.cjson = readonly({
  encode = json_encode,
  decode = json_decode,
  null = null,
})
base.string = readonly(string)
base.table = readonly(table)
base.math = readonly(math)
base.redis = readonly(redis)

local env = setmetatable({}, {
  __index = function(_, k)
    local v = base[k]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
base._G = env

local function handler(err)
  local level, info = 2, nil
  repeat
    info = dbg.getinfo(level, 'Sl')
    level = level + 1
  until info == nil or info.source == '@user_script'
  if type(err) == 'userdata' then  -- raised from Python (redis.call, cjson)
    err = {err = describe(err, info and info.currentline)}
  elseif type(err) == 'table' and type(err.err) == 'number' then
    err = {err = tostring(err.err)}
  elseif type(err) ~= 'table' or type(err.err) ~= 'string' then
    -- Redis 7.0.15 crashes on a table without a text in err: an ERR here.
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then err.line = info.currentline end
  return err
end

local function hook()
  if busy() then
    error({err = 'ERR Script killed by pulsards: it ran for ' .. tostring(busy()) ..
                 ' ms without writing'})
  end
end

local function compile(body)
  local f, err = loadstring(body, '@user_script')
  if not f then return nil, err end
  setfenv(f, env)
  return f, false
end

local function run(f, keys, args)
  base.KEYS, base.ARGV = keys, args
  dbg.sethook(hook, '', 100000)
  local result = {xpcall(f, handler)}
  dbg.sethook()
  return result[1], result[2]
end

return compile, run, null
