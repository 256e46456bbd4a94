-- The sandbox scripts run in, built once per Lua state (see runtime.rs). It runs with the
-- unprotected globals table and leaves behind Redis 7.0's environment: every library and the
-- global table readonly ("Attempt to modify a readonly table"), reading a missing global an
-- error, and the library functions written in Rust raising plain Lua errors.
--
-- Lua 5.1 has no readonly tables, so each protected table is an empty proxy whose metatable
-- reads through to the real one and refuses writes; the few base functions that bypass
-- metatables (rawset, rawget, next, pairs, ipairs, unpack, setmetatable, the table library)
-- learn about proxies here. Known gap: `#proxy` is 0 (Lua 5.1 has no `__len` for tables).
local G, rust, kind = ...

local rawget_, pairs_ = rawget, pairs
local setmetatable_, getmetatable_, setfenv_ = setmetatable, getmetatable, setfenv
local error_, type_, tostring_, pcall_, select_ = error, type, tostring, pcall, select
local loadstring_, load_, byte_, concat_ = loadstring, load, string.byte, table.concat

local READONLY = "Attempt to modify a readonly table"

-- proxy -> the table it protects. Weak keys: a dropped proxy does not keep its table alive.
local protected = setmetatable_({}, { __mode = "k" })

local function refuse_write()
  -- Level 2: the error points at the script line that assigned, as Redis's does.
  error_(READONLY, 2)
end

-- What getmetatable returns for a protected table: itself readonly, so a script cannot reach
-- the real table through `getmetatable(_G).__index`.
local sealed = {}
setmetatable_(sealed, { __newindex = refuse_write, __metatable = sealed })
protected[sealed] = {}

local function protect(real)
  local proxy = {}
  setmetatable_(proxy, { __index = real, __newindex = refuse_write, __metatable = sealed })
  protected[proxy] = real
  return proxy
end

-- The functions that bypass metatables learn about proxies: writers refuse them, readers
-- see the protected table. They are Rust functions (rust.guard) so that, like the C
-- functions they wrap, they add no Lua frame: argument errors keep Lua's text and the
-- script's line even when called in a tail position.
for _, spec in pairs_({
  { G, "rawset", "write" }, { G, "setmetatable", "write" },
  { table, "insert", "write" }, { table, "remove", "write" }, { table, "sort", "write" },
  { table, "setn", "write" },
  { G, "rawget", "read" }, { G, "next", "read" }, { G, "pairs", "read" },
  { G, "ipairs", "read" }, { table, "concat", "read" },
  { table, "getn", "read" }, { table, "maxn", "read" }, { table, "foreach", "read" },
  { table, "foreachi", "read" },
}) do
  local library, name, mode = spec[1], spec[2], spec[3]
  library[name] = rust.guard(name, library[name], mode == "write", protected)
end
-- unpack returns as many values as Lua's stack allows: it is a C function of its own.
G.unpack = rust.unpack(protected)

-- Redis's Lua parses every chunk as text: a precompiled chunk (which could corrupt the VM)
-- fails to compile instead. A leading space makes the stock parser read it as text, with the
-- same message and chunk name.
local function text_only(s)
  if type_(s) == "string" and byte_(s, 1) == 27 then return " " .. s end
  return s
end
loadstring = function(...)
  local s, name = ...
  local kind = type_(s)
  if kind == "number" then s = tostring_(s) elseif kind ~= "string" then
    local got = select_("#", ...) == 0 and "no value" or kind
    error_("bad argument #1 to 'loadstring' (string expected, got " .. got .. ")", 2)
  end
  return loadstring_(text_only(s), name or s)
end
load = function(reader, name)
  if type_(reader) ~= "function" then return load_(reader, name) end
  local pieces = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    if type_(piece) ~= "string" then return nil, "reader function must return a string" end
    pieces[#pieces + 1] = piece
  end
  return loadstring_(text_only(concat_(pieces)), name or "=(load)")
end

-- The functions written in Rust raise their own errors: a plain message with the caller's
-- position for libraries (as luaL_error), an error reply (`ERR ...`) for the redis API.
math.random = rust.random
math.randomseed = rust.randomseed

local redis = {}
redis.call = rust.call
redis.pcall = rust.pcall
redis.error_reply = function(text)
  if type_(text) ~= "string" then return { err = "ERR wrong number or type of arguments" } end
  return { err = rust.error_text(text) }
end
redis.status_reply = function(text)
  if type_(text) ~= "string" then return { err = "ERR wrong number or type of arguments" } end
  return { ok = text }
end
for _, name in pairs_({ "sha1hex", "log", "setresp", "set_repl", "acl_check_cmd" }) do
  redis[name] = rust[name]
end
for name, value in pairs_(rust.constants) do redis[name] = value end

if kind == "eval" then
  -- They act only under the Lua debugger (SCRIPT DEBUG).
  redis.breakpoint = rust.breakpoint
  redis.debug = rust.debug
  -- Effects replication is the only mode since Redis 7.0.
  redis.replicate_commands = function() return true end
end

-- pcall hands a script the text of an error table, as Redis 7.0's does, so scripts written
-- for string errors keep working.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type_(e) == "table" and type_(rawget_(e, "err")) == "string" then return false, e.err end
  if type_(e) == "userdata" then return false, rust.error_message(e) end
  return false, e
end
pcall = function(f, ...) return pcall_result(pcall_(f, ...)) end

-- Globals: the listed functions and libraries, nothing else. `rust.handler` is Redis's name
-- for its error handler, which EVAL's global table shows.
for _, name in pairs_({ "print", "dofile", "loadfile", "setfenv", "getfenv", "newproxy",
  "require", "module", "package", "os", "io", "debug" }) do
  G[name] = nil
end
if kind == "eval" then G.__redis__err__handler = rust.handler end

local string_meta = getmetatable_("")
for _, name in pairs_({ "string", "math", "table", "coroutine" }) do G[name] = protect(G[name]) end
for _, name in pairs_(rust.libraries) do G[name] = protect(G[name]) end
string_meta.__index = G.string
string_meta.__metatable = sealed
G.redis = protect(redis)

local function missing_global(_, name)
  error_("Script attempted to access nonexistent global variable '" .. tostring_(name) .. "'", 2)
end
setmetatable_(G, { __index = missing_global })
local globals = protect(G)
G._G = globals
-- Chunks loaded later (loadstring, coroutines) get the protected table too.
setfenv_(0, globals)

-- What a function library sees while it loads: only redis.register_function, redis.log and
-- the constants, as in Redis 7.0. Each library gets its own environment table, which reads
-- from this loader view while the library loads and from the runtime globals once it has
-- loaded, so functions (and helpers they call) defined at load time see the full API later.
local new_library_env
if kind == "function" then
  local loader_redis = {
    register_function = rust.register_function,
    log = redis.log,
  }
  for _, name in pairs_({ "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
    "REDIS_VERSION", "REDIS_VERSION_NUM" }) do
    loader_redis[name] = redis[name]
  end
  setmetatable_(loader_redis, { __index = missing_global })
  local loader_globals = setmetatable_({ redis = protect(loader_redis) },
    { __index = missing_global })
  new_library_env = function()
    local env = {}
    local meta = { __index = loader_globals, __newindex = refuse_write, __metatable = sealed }
    setmetatable_(env, meta)
    protected[env] = G
    local function loaded() meta.__index = globals end
    return env, loaded
  end
end

return globals, new_library_env
