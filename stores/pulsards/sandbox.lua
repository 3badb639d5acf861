-- pulsards' Lua sandbox for scripts and functions: stores/pulsards/lua.py
-- runs this once per server, passing the Python functions below as its
-- arguments, and gets back compile(body [, '@user_function']), run(f, KEYS,
-- ARGV), cjson.null, rawget, call_function(f, keys, args) and
-- load_library(f, register).  call and pcall_ are redis.call and redis.pcall
-- (a ScriptError that call raises reaches Lua as a userdata whose err is the
-- error text: describe reads it); busy() gives the error that ends the
-- script (or library load) when it has run too long.  The error handler
-- records the line of the user's code where the error was raised (Redis'
-- __redis__err__handler).
local call, pcall_, describe, busy, sha1hex, log, setresp, json_encode, json_decode,
      random, randomseed = ...
local dbg, select, type, error, pcall = debug, select, type, error, pcall
local tostring, setmetatable, xpcall, rawget, rawset = tostring, setmetatable, xpcall, rawget, rawset
local unpack, maxn = unpack, table.maxn

-- Python objects (the error a Python function raises, say) share lupa's one
-- metatable: hidden, so that no script can change it for the next.  The
-- Python functions are given to scripts as C functions (type "function"; a
-- C function keeps the caller's frame, and the error's line, on a tail call).
getmetatable(call).__metatable = false
local as_function = python.as_function
call, pcall_, sha1hex, log, setresp = as_function(call), as_function(pcall_),
  as_function(sha1hex), as_function(log), as_function(setresp)
json_encode, json_decode = as_function(json_encode), as_function(json_decode)
random, randomseed = as_function(random), as_function(randomseed)

local function readonly(t, name)
  return setmetatable({}, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

local BAD_ARGS = 'ERR wrong number or type of arguments'

local redis = {
  call = call,
  pcall = pcall_,
  error_reply = function(...)
    local e = ...
    if select('#', ...) ~= 1 or type(e) ~= 'string' then return {err = BAD_ARGS} end
    e = e:gsub('[\r\n]+$', '')
    if e:sub(1, 1) == '-' then
      local space = e:find(' ', 1, true)
      if space then return {err = e:sub(2, space - 1) .. ' ' .. e:sub(space + 1)} end
      return {err = 'ERR ' .. e:sub(2)}
    end
    return {err = 'ERR ' .. e}
  end,
  status_reply = function(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then return {err = BAD_ARGS} end
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
-- An ended (busy) script's error goes through every pcall and xpcall.
local killed = nil
local function rethrow_kill(err)
  if killed and err == killed then error(killed, 0) end
end
base.pcall = function(f, ...)
  local result = {pcall(f, ...)}
  if not result[1] then
    local err = result[2]
    rethrow_kill(err)
    if type(err) == 'userdata' then
      return false, describe(err, false)
    elseif type(err) == 'table' and type(rawget(err, 'err')) == 'string' then
      return false, rawget(err, 'err')
    end
  end
  return unpack(result, 1, maxn(result))
end
base.xpcall = function(f, h)
  local result = {xpcall(f, function(err)
    if killed and err == killed then return err end
    if type(err) == 'userdata' then err = {err = describe(err, false)} end  -- as Redis' table
    return h(err)
  end)}
  if not result[1] then rethrow_kill(result[2]) end
  return unpack(result, 1, maxn(result))
end
local null = newproxy(false)
base.cjson = readonly({
  encode = json_encode,
  decode = json_decode,
  null = null,
})
base.string = readonly(string)
base.table = readonly(table)
-- Redis' own math.random and math.randomseed (its rand48, one state per server).
local math_ = {}
for k, v in pairs(math) do math_[k] = v end
math_.random, math_.randomseed = random, randomseed
base.math = readonly(math_)
base.redis = readonly(redis)

-- A read-only table of the names lookup(name) gives: any other is an error.
local function strict(lookup)
  return setmetatable({}, {
    __index = function(_, k)
      local v = lookup(k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

local env = strict(function(k) return base[k] end)
base._G = env

-- Functions (FUNCTION LOAD, FCALL).  While a library's code runs, the
-- only global is redis, holding register_function, log, the log levels and
-- the version: anything else is an unknown global, as in Redis.  The
-- functions it registers run later in the scripts' globals, without KEYS
-- and ARGV (keys and arguments are their parameters).
local register = nil  -- Python's register(name, callback, flags, description) while loading
local FLAGS = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true,
               ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}

local function fail(message) error({err = 'ERR ' .. message}) end

local function as_string(v)  -- lua_isstring: a string or a number
  local t = type(v)
  if t == 'string' or t == 'number' then return tostring(v) end
end

local function named_arguments(args)
  if type(args) ~= 'table' then
    fail('calling redis.register_function with a single argument is only applicable ' ..
         'to Lua table (representing named arguments).')
  end
  local name, callback, description, flags = nil, nil, nil, {}
  for key, value in next, args do
    local k = as_string(key)
    if not k then fail('named argument key given to redis.register_function is not a string') end
    k = k:lower()
    if k == 'function_name' then
      name = as_string(value)
      if not name then
        fail('function_name argument given to redis.register_function must be a string')
      end
    elseif k == 'description' then
      description = as_string(value)
      if not description then
        fail('description argument given to redis.register_function must be a string')
      end
    elseif k == 'callback' then
      if type(value) ~= 'function' then
        fail('callback argument given to redis.register_function must be a function')
      end
      callback = value
    elseif k == 'flags' then
      if type(value) ~= 'table' then
        fail('flags argument to redis.register_function must be a table representing ' ..
             'function flags')
      end
      local i = 1
      while value[i] ~= nil do
        local flag = as_string(value[i])
        flag = flag and flag:lower()
        if not FLAGS[flag] then fail('unknown flag given') end
        flags[#flags + 1] = flag
        i = i + 1
      end
    else
      fail('unknown argument given to redis.register_function')
    end
  end
  if not name then fail('redis.register_function must get a function name argument') end
  if not callback then fail('redis.register_function must get a callback argument') end
  return name, callback, flags, description
end

local function register_function(...)
  if not register then  -- kept by a library and called later, from a function
    fail('redis.register_function can only be called on FUNCTION LOAD command')
  end
  local count = select('#', ...)
  if count < 1 or count > 2 then fail('wrong number of arguments to redis.register_function') end
  if count == 1 then
    return register(named_arguments(...))
  end
  local name, callback = ...
  name = as_string(name)
  if not name then fail('first argument to redis.register_function must be a string') end
  if type(callback) ~= 'function' then
    fail('second argument to redis.register_function must be a function')
  end
  return register(name, callback, {}, nil)
end

local library_api = {
  register_function = register_function, log = log,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
}
local library_redis = strict(function(k) return library_api[k] end)
local fenv
fenv = strict(function(k)
  if register then return k == 'redis' and library_redis or nil end
  if k == 'KEYS' or k == 'ARGV' then return nil end
  if k == '_G' then return fenv end
  return base[k]
end)

local function handler(err)
  dbg.sethook()  -- the script is over: nothing to end in here
  local level, info = 2, nil
  repeat
    info = dbg.getinfo(level, 'Sl')
    level = level + 1
  until info == nil or info.source == '@user_script' or info.source == '@user_function'
  -- Raw reads and writes: a script's error table may carry any metatable.
  local text = type(err) == 'table' and rawget(err, 'err')
  if type(err) == 'userdata' then  -- raised from Python (redis.call, cjson)
    text = describe(err, info and info.currentline)
  elseif type(text) == 'number' then
    text = tostring(text)
  elseif type(text) ~= 'string' then
    -- Redis 7.0.15 crashes on a table without a text in err: an ERR here.
    text = 'ERR ' .. tostring(err)
  end
  return {err = text, line = info and info.currentline}
end

local function hook()
  if not killed then
    local reason = busy()
    if not reason then return end
    killed = {err = reason}
    dbg.sethook(hook, '', 1)  -- from now on at every instruction
  end
  error(killed, 0)
end

local function compile(body, chunk)
  local f, err = loadstring(body, chunk or '@user_script')
  if not f then return nil, err end
  setfenv(f, chunk and fenv or env)
  return f, false
end

local function guarded(f)
  killed = nil
  dbg.sethook(hook, '', 100000)
  local result = {xpcall(f, handler)}
  dbg.sethook()
  return result[1], result[2]
end

local function run(f, keys, args)
  base.KEYS, base.ARGV = keys, args
  return guarded(f)
end

-- FCALL: a function gets its keys and arguments as parameters.
local function call_function(f, keys, args)
  return guarded(function() return f(keys, args) end)
end

-- FUNCTION LOAD: run a library's compiled code once, register(name,
-- callback, flags, description) taking what it registers.
local function load_library(f, register_)
  register = register_
  local ok, err = guarded(f)
  register = nil
  return ok, err
end

return compile, run, null, rawget, call_function, load_library
