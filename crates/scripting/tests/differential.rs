//! The same scripts through real Redis's EVAL and through this crate, with a test host that
//! forwards `redis.call` to that same Redis; the reply bytes must match, in RESP2 and RESP3.
//! Skipped (with a message) where `redis-server` is not installed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_lite_protocol::{parse_response, Protocol};
use redis_lite_scripting::{
    AclCheck, FunctionLibraries, Host, Interrupt, LogLevel, ReplFlags, ScriptCache,
    RANDOM_INITIAL_STATE,
};

struct RealRedis {
    child: Child,
    port: u16,
}

impl RealRedis {
    fn start() -> Option<RealRedis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = match Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => {
                eprintln!("skipped: redis-server not found");
                return None;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RealRedis { child, port })
    }

    fn connect(&self, protocol: Protocol) -> Connection {
        let mut connection = Connection {
            stream: TcpStream::connect(("127.0.0.1", self.port)).unwrap(),
            buffer: Vec::new(),
        };
        if protocol == Protocol::Resp3 {
            connection.command(&[b"HELLO", b"3"]);
        }
        connection
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Sends a command and returns its raw reply bytes.
    fn command(&mut self, argv: &[&[u8]]) -> Vec<u8> {
        let mut request = format!("*{}\r\n", argv.len()).into_bytes();
        for arg in argv {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&request).unwrap();
        loop {
            if let Ok(Some((_, len))) = parse_response(&self.buffer) {
                return self.buffer.drain(..len).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "redis-server closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Forwards commands to real Redis on a connection of the protocol the script asks for.
struct ForwardingHost {
    resp2: Connection,
    resp3: Connection,
    logged: Vec<(LogLevel, Vec<u8>)>,
}

impl Host for ForwardingHost {
    fn call(&mut self, argv: &[&[u8]], protocol: Protocol, reply: &mut Vec<u8>) {
        *reply = match protocol {
            Protocol::Resp2 => self.resp2.command(argv),
            Protocol::Resp3 => self.resp3.command(argv),
        };
    }
    fn log(&mut self, level: LogLevel, message: &[u8]) {
        self.logged.push((level, message.to_vec()));
    }
    fn set_repl(&mut self, _flags: ReplFlags) {}
    fn acl_check(&mut self, _argv: &[&[u8]]) -> AclCheck {
        AclCheck::Allowed
    }
    fn interrupt(&mut self) -> Interrupt {
        Interrupt::Continue
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\\r\\n")
}

/// Replies that differ from real Redis, gathered so that one run reports every difference.
#[derive(Default)]
struct Differences(Vec<String>);

impl Differences {
    /// Records `what` when redis-lite's reply is not real Redis's.
    fn check(&mut self, what: impl std::fmt::Display, expected: &[u8], actual: &[u8]) {
        if actual != expected {
            self.0.push(format!(
                "{what}\n  redis:      {}\n  redis-lite: {}",
                show(expected),
                show(actual)
            ));
        }
    }

    #[track_caller]
    fn assert_none(self) {
        assert!(
            self.0.is_empty(),
            "{} differences:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Scripts compared by their full reply. Each runs on an emptied database, first through
/// real Redis, then through the crate.
const SCRIPTS: &[&str] = &[
    // Return values.
    "return 1",
    "return 3.99",
    "return -3.99",
    "return 1e100",
    "return 0/0",
    "return 'hello'",
    "return nil",
    "return true",
    "return false",
    "return {1, 2, nil, 4}",
    "return {1, {2, {3}}, 'x', true, false}",
    "return {a = 1}",
    "return {}",
    "return {err = 'MY failure'}",
    "return {err = 'x'}",
    "return {err = 1}",
    "return {ok = 'fine'}",
    "return {ok = 'a\\r\\nb'}",
    "return {double = 3.5}",
    "return {map = {a = 1}}",
    "return {set = {a = true}}",
    "return {big_number = '123'}",
    "return {verbatim_string = {format = 'txt', string = 'hi'}}",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "redis.setresp(3) return {double = 0.1}",
    "return redis.error_reply('x')",
    "return redis.error_reply('MY x')",
    "return redis.error_reply('-MY x')",
    "return redis.error_reply('')",
    "return redis.error_reply('- x')",
    "return redis.error_reply(1)",
    "return redis.status_reply('fine')",
    "return redis.status_reply()",
    // Command replies as Lua values, both protocols.
    "return redis.call('ping')",
    "return redis.call('set', 'k', 'v')",
    "return redis.call('get', 'nokey')",
    "return redis.call('get', 'nokey') == false",
    "redis.setresp(3) return redis.call('get', 'nokey') == nil",
    "redis.call('set', 'n', 0.1) return redis.call('get', 'n')",
    "redis.call('set', 'n', 7) return redis.call('incr', 'n')",
    "redis.call('set', 'n', 1e17) return redis.call('get', 'n')",
    "redis.call('set', 'n', -2^53) return redis.call('get', 'n')",
    "redis.call('rpush', 'l', 'a', 'b', 'c') return redis.call('lrange', 'l', 0, -1)",
    "redis.call('hset', 'h', 'a', '1') redis.setresp(3) return redis.call('hgetall', 'h')",
    "redis.call('hset', 'h', 'a', '1') redis.setresp(3) return redis.call('hgetall', 'h').map.a",
    "redis.call('sadd', 's', 'm') redis.setresp(3) return redis.call('smembers', 's')",
    "redis.call('zadd', 'z', 1.5, 'm') redis.setresp(3) local r = redis.call('zscore', 'z', 'm') return {type(r), r.double}",
    "redis.call('zadd', 'z', 1.5, 'm') redis.setresp(3) return redis.call('zscore', 'z', 'm')",
    "redis.setresp(3) return redis.call('zscore', 'nz', 'm') == nil",
    "local r = redis.call('set', 'k', 'v') return type(r) .. r.ok",
    "redis.setresp(3) return redis.call('mget', 'a', 'b')",
    "return redis.call('mget', 'a', 'b')",
    "redis.setresp(3) local r = redis.call('info', 'server') return {type(r), r.verbatim_string.format}",
    "redis.call('set', 'f', '1.5') return redis.call('incrbyfloat', 'f', '0.1')",
    "redis.call('zadd', 'z', 1, 'a', 2, 'b') redis.setresp(3) return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "redis.call('zadd', 'z', 1, 'a', 2, 'b') return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "redis.call('hset', 'h', 'a', '1', 'b', '2') redis.setresp(3) local r = redis.call('hgetall', 'h') return {map = r.map}",
    "redis.call('xadd', 's', '1-1', 'f', 'v') return redis.call('xrange', 's', '-', '+')",
    "redis.setresp(3) redis.call('xadd', 's', '1-1', 'f', 'v') return redis.call('xinfo', 'stream', 's')['map']['length']",
    "return redis.call('set', 'k', 'v', 'xx')",
    "redis.setresp(3) return redis.call('set', 'k', 'v', 'xx') == nil",
    "return redis.call('type', 'nokey')",
    "local r = redis.pcall('incr', 's') return type(r) .. tostring(r.err)",
    "redis.call('set', 's', 'x') local r = redis.pcall('incr', 's') return r.err",
    "return {map = {a = 1, b = 2, c = 3, [1] = 'x'}}",
    "return {set = {a = true, b = true, [3] = true}}",
    "return {map = {}}",
    "return {double = 1/0}",
    "return {double = -1/0}",
    "return {double = 0/0}",
    "return {double = 1e300}",
    "return {double = '1.5'}",
    "return {big_number = '12\r\n3'}",
    "return {err = 'ERR a\nb'}",
    "return {1, {err = 'inner'}, {ok = 'fine'}}",
    "redis.setresp(3) return {1, true, false, {double = 2.5}, {map = {k = {set = {m = true}}}}}",
    "return 9007199254740993",
    "return -0",
    "return 2^63",
    "return -2^63",
    "return 'a\0b'",
    "return string.rep('x', 1000)",
    "local t = {} local c = t for i = 1, 100 do c[1] = {} c = c[1] end return t",
    "#!lua\nreturn x",
    "#!lua flags=no-writes\nreturn 1",
    "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn redis.call('get', KEYS[1])",
    "#!lua flags=bad\nreturn 1",
    "#!lua name=x\nreturn 1",
    "#!luax\nreturn 1",
    "#!lua flags=\nreturn 2",
    "\x1bLua",
    // Errors. (Refusals that need the server, such as "Wrong number of args calling Redis
    // command from script", are the host's and tested with the server.)
    "error('boom')",
    "error('boom', 0)",
    "error({err = 'MY boom'})",
    "error(nil)",
    "error(12)",
    "error(true)",
    "error('-MY x', 0)",
    "local f = function() error('deep') end\nlocal x = 1\nf()",
    "return 'a' + 1",
    "return coroutine.wrap(function() error('in a coroutine') end)()",
    "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return {x, y, coroutine.status(co)}",
    "return coroutine.wrap(function() return redis.call('ping') end)()",
    "local ok, e = pcall(function() local t = nil return t.x end) return e",
    "return xpcall(function() error('x') end, function(e) return 'handled: ' .. e end)",
    "return 1 +",
    "redis.call('set', 's', 'a') return redis.call('incr', 's')",
    "redis.call('set', 's', 'a') return redis.pcall('incr', 's')",
    "redis.call()",
    "return redis.pcall()",
    "redis.call({})",
    "redis.call('get', {})",
    "return redis.call('get', nil)",
    "return redis.call('get', 1.5)",
    "local ok, e = pcall(error, {err = 'x', y = 1}) return e",
    "local ok, e = pcall(error, {y = 1}) return type(e)",
    "return {pcall(string.rep)}",
    "return string.rep()",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.log()",
    "return redis.log('a', 'b')",
    "return redis.log(99, 'x')",
    "return redis.log(redis.LOG_WARNING, 'x', 1)",
    "return redis.set_repl()",
    "return redis.set_repl(99)",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.sha1hex('')",
    "return redis.sha1hex(1)",
    "return redis.sha1hex()",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.debug('x')",
    "return {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}",
    "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING, redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
    // Sandbox.
    "x = 1",
    "return x",
    "string.x = 1",
    "redis.x = 1",
    "math.floor = nil",
    "rawset(_G, 'x', 1)",
    "setmetatable(_G, {})",
    "getmetatable('').__index = nil",
    "getmetatable(_G).__index = nil",
    "table.insert(redis, 1)",
    "return loadstring('x = 1')()",
    "local f, e = loadstring(nil) return 1",
    "local f = loadstring() return 1",
    "local f, e = loadstring('return 1 +') return e",
    "return loadstring(12)",
    "return {loadstring('return ...', 'chunky')(5)}",
    "local ok = pcall() return 1",
    "return {pcall(function(a) return a * 2 end, 21)}",
    "return select(2, loadstring(string.dump(function() end)))",
    "return type(getmetatable(_G))",
    "for k in pairs(nil) do end",
    "for k in ipairs() do end",
    "table.insert(nil, 1)",
    "return rawget(nil, 1)",
    "return next(nil)",
    "rawset({}, nil, 1)",
    "setmetatable({}, 1)",
    "return table.remove(nil)",
    "return table.concat({1, {}, 3})",
    "return unpack(nil)",
    "table.sort({3, 1, 2}, function(a, b) error('in comparator') end)",
    "table.sort({3, 1, 2}, function(a, b) return redis.call('get', {}) end)",
    "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) table.insert(t, 1, 0) return {table.remove(t), unpack(t)}",
    "local t = {} rawset(t, 'a', 1) return {rawget(t, 'a'), next(t), select('#', unpack({1, 2, 3}))}",
    "local n = 0 for i, v in ipairs(KEYS) do n = n + 1 end for k in pairs(math) do n = n + 1 end return n",
    "return {#string, rawget(string, 'upper') ~= nil, next(math) ~= nil}",
    "local t = {} for _, v in ipairs(redis) do t[#t + 1] = v end return #t",
    "return table.concat(string)",
    "rawset(string, 'x', 1)",
    "table.insert(math, 1)",
    "return table.remove(bit)",
    "table.sort(cjson)",
    "return setmetatable(redis, {})",
    "return rawget(_G, 'redis') ~= nil",
    "return _VERSION",
    "return print",
    "return os",
    "return loadfile",
    "return dofile",
    "return setfenv",
    "return getfenv",
    "return debug",
    "return require",
    "return newproxy",
    "return type(coroutine.create)",
    "local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(math) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(bit) do t[#t + 1] = k end table.sort(t) return t",
    "local t = setmetatable({}, {__index = string}) return t.upper('a')",
    "return ('abc'):upper()",
    "return KEYS[1] .. ARGV[1]",
    "return {#KEYS, #ARGV}",
    "return select('#', ...)",
    // math.random: the same sequence as Redis's.
    "return {math.random(1000), math.random(1000), math.random(1000)}",
    "return tostring(math.random())",
    "return {math.random(5, 10), math.random(-3, 3)}",
    "math.randomseed(42) return {math.random(100), math.random(100)}",
    "return math.random(0)",
    "return math.random(1, 2, 3)",
    // bit.
    "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5)}",
    "return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(-1, 5), bit.bnot(0), bit.bnot(-1)}",
    "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.lshift(1, 33)}",
    "return {bit.rol(0x80000001, 1), bit.ror(1, 1), bit.bswap(0x12345678)}",
    "return {bit.tohex(255), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 12)}",
    "return bit.band()",
    "return bit.band('x')",
    "return bit.tobit('12')",
    // cjson.
    "return cjson.encode({1, 2, {a = 1}})",
    "return cjson.encode({0.1, 1e20, 3, -0.0, 1/3, 123456789012345})",
    "return cjson.encode({1/0})",
    "return cjson.encode('a/b\"c\\\\\\n\\t\\1')",
    "return cjson.encode({})",
    "return cjson.encode({[1] = 1, [3] = 3})",
    "return cjson.encode({[1] = 1, [20] = 3})",
    "return cjson.encode({[1.5] = 1})",
    "return cjson.encode({nested = {deeper = {true, false, cjson.null}}})",
    "return cjson.encode(nil)",
    "return cjson.encode(print)",
    "return cjson.encode({[true] = 1})",
    "local t = cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\\u00e9\\\\n\"}') return {t.a[1], t.a[2], t.a[3].b == cjson.null, t.c}",
    "return cjson.decode('[1.5e3, -2, true, false]')",
    "return cjson.decode('x')",
    "return cjson.decode('')",
    "return cjson.decode('[1,2')",
    "return cjson.decode('{\"a\" 1}')",
    "return cjson.decode('{1:2}')",
    "return cjson.decode('[1] x')",
    "return cjson.decode('\"\\\\q\"')",
    "return {pcall(cjson.decode, 'x')}",
    "return cjson.encode(cjson.decode('{\"k\":[1,\"two\",3.25]}'))",
    // struct.
    "return {struct.pack('>i', 1), struct.pack('<h', -2), struct.pack('b', 200), struct.pack('!4 b i', 1, 2), struct.pack('i3', -1), struct.pack('I16', 1)}",
    "return {struct.pack('>l', -2), struct.pack('<L', 2^40), struct.pack('T', 7), struct.pack('>H B x h', 513, 255, -1)}",
    "return {struct.unpack('>i', struct.pack('>i', -5))}",
    "return {struct.unpack('<I2 b B', '\\255\\255\\200\\200')}",
    "return struct.size('!8 b d')",
    "return struct.size('i2 i8 c5 x')",
    "return struct.size('s')",
    "return struct.size('c0')",
    "return struct.pack('s', 'a\\0b')",
    "return struct.pack('c3', 'ab')",
    "return struct.pack('c0', 'abc')",
    "return struct.pack('q', 1)",
    "return struct.pack('i40', 1)",
    "return {struct.unpack('b c0', struct.pack('b c0', 3, 'abc'))}",
    "return {struct.unpack('s i', struct.pack('s i', 'hello', 9))}",
    "return {struct.unpack('i', 'ab')}",
    "return {struct.unpack('s', 'ab')}",
    "return {struct.unpack('i', struct.pack('i', 7), 0)}",
    "return {struct.unpack('i', struct.pack('i', 7), 9)}",
    "return {struct.unpack('i', struct.pack('ii', 7, 8), 5)}",
    "return struct.pack('i', 'x')",
    "return struct.pack('i')",
    "return {struct.unpack('d f', struct.pack('d f', 1.5, 0.1))}",
    "return tostring(struct.unpack('f', struct.pack('f', 0.1)))",
    "return {struct.unpack('>d', struct.pack('>d', -2.75))}",
    "return struct.pack('s')",
    "return struct.pack('c2')",
    "return {struct.unpack('', 'ab', 5)}",
    "return {struct.unpack('x', 'ab', 3)}",
    // cmsgpack: exact bytes and round trips.
    "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
    "return cmsgpack.pack(0.5, 0.1, -1.25, 1e300, 1/0, -1/0)",
    "return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), string.rep('z', 256))",
    "return cmsgpack.pack(nil, true, false)",
    "return cmsgpack.pack({}, {1, 2, 3}, {a = 1}, {1, nil, 3}, {[2] = 'x'})",
    "return cmsgpack.pack({1, {2, {3, {4}}}, {k = {'v'}}})",
    "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    "local t = {} for i = 1, 20 do t['k' .. i] = i end return #cmsgpack.pack(t)",
    "local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)",
    "return cmsgpack.pack()",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, {five = 5}, true, 0.5))}",
    "local t = cmsgpack.unpack(cmsgpack.pack({a = {b = 'c'}})) return t.a.b",
    "return {cmsgpack.unpack('\\204')}",
    "return {cmsgpack.unpack('\\193')}",
    "return {cmsgpack.unpack('')}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2), 5, 9)}",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1), -1)}",
    "return {cmsgpack.unpack(cmsgpack.pack(2^53 + 10, -2^40))}",
    // Library and global listings.
    "local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(cjson) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(cmsgpack) do t[#t + 1] = k end table.sort(t) return t",
    "local t = {} for k in pairs(struct) do t[#t + 1] = k end table.sort(t) return t",
    "return {cmsgpack._VERSION, cmsgpack._NAME, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION, cjson._NAME, cjson._VERSION}",
    // cjson settings last: they last for every later script, here as in Redis.
    "return {cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_keep_buffer(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_sparse_array()}",
    "return cjson.decode('[0x10, -0x10, 1e2]')",
    "return cjson.encode(cjson.decode('[inf, nan]'))",
    "return cjson.encode_number_precision(20)",
    "return cjson.encode_invalid_numbers('x')",
    "return cjson.encode_max_depth(0)",
    "return {cjson.encode_sparse_array('x')}",
    "local c = cjson.new() return {type(c), c.encode({1})}",
    "return {cjson.encode_invalid_numbers('null'), cjson.encode({1/0})}",
    "cjson.encode_invalid_numbers(true) return cjson.encode({1/0, -1/0})",
    "cjson.encode_number_precision(3) return cjson.encode({3.14159, 1234567})",
    "return {cjson.encode_sparse_array(true, 3, 4)}",
    "return cjson.encode({[1] = 1, [20] = 2})",
    "cjson.encode_sparse_array(false, 0) return cjson.encode({[1] = 1, [50] = 2})",
    "cjson.encode_max_depth(2) return cjson.encode({{{1}}})",
    "cjson.decode_max_depth(2) return cjson.decode('[[[1]]]')",
    "cjson.decode_invalid_numbers(false) return cjson.decode('[0x10]')",
    "return {cjson.encode_keep_buffer(false)}",
];

fn compare(redis: &RealRedis, scripts: &[&str]) {
    let mut host = ForwardingHost {
        resp2: redis.connect(Protocol::Resp2),
        resp3: redis.connect(Protocol::Resp3),
        logged: Vec::new(),
    };
    let mut cache = ScriptCache::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let mut differences = Differences::default();
    for script in scripts {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            host.resp2.command(&[b"FLUSHALL"]);
            let mut client = redis.connect(protocol);
            let expected = client.command(&[b"EVAL", script.as_bytes(), b"1", b"key1", b"arg1"]);
            host.resp2.command(&[b"FLUSHALL"]);
            let actual = match cache.load(script.as_bytes()) {
                Ok(sha) => {
                    cache
                        .run(&mut host, sha.as_bytes(), &[b"key1"], &[b"arg1"], protocol)
                        .unwrap()
                        .bytes
                }
                Err(text) => format!("-{text}\r\n").into_bytes(),
            };
            differences.check(format_args!("{protocol:?} {script:?}"), &expected, &actual);
        }
    }
    differences.assert_none();
}

#[test]
fn scripts_reply_as_real_redis_eval() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    compare(&redis, SCRIPTS);
}

/// Function libraries: loading errors and FCALL results against FUNCTION LOAD and FCALL.
#[test]
fn functions_load_and_call_as_real_redis() {
    let Some(redis) = RealRedis::start() else {
        return;
    };
    let mut host = ForwardingHost {
        resp2: redis.connect(Protocol::Resp2),
        resp3: redis.connect(Protocol::Resp3),
        logged: Vec::new(),
    };
    let mut libraries = FunctionLibraries::new(Arc::new(AtomicU64::new(RANDOM_INITIAL_STATE)));
    let mut client = redis.connect(Protocol::Resp2);
    let loads: &[&str] = &[
        "#!lua name=a\nreturn 1",
        "#!lua name=b\nredis.call('ping')",
        "#!lua name=c\nx = 1\nredis.register_function('c1', function() return 1 end)",
        "#!lua name=d\nlocal function f(keys, args) return {keys[1], args[1]} end\nredis.register_function('d1', f)",
        "#!lua name=e\nredis.register_function{function_name='e1', callback=function() return redis.call('get', 'k') end, flags={'no-writes'}, description='desc'}",
        "#!lua name=f\nredis.register_function{function_name='f1', callback=function() return 1 end, flags={'bad'}}",
        "#!lua name=g\nredis.register_function{function_name='g1', callback=function() return 1 end, foo=1}",
        "#!lua name=h\nredis.register_function('h1')",
        "#!lua name=j\nredis.register_function('d1', function() end)",
        "#!lua name=a b",
        "#!lua",
        "return 1",
        "#!lua name=k\nreturn 1 +",
        "#!lua name=l\nerror('oops')",
        "#!lua name=m\nredis.register_function('m1', function() return 1 end)\nredis.register_function('m1', function() return 1 end)",
        "#!lua name=d\nredis.register_function('zz', function() end)",
        "#!lua name=n\nlocal helper = function() return redis.call('ping') end\nredis.register_function('n1', function() return {helper(), math.random(1000)} end)",
        "#!lua name=q\nredis.register_function('q1', function() error('bad thing') end)",
        "#!lua name=r\nredis.register_function('r1', function() y = 1 end)",
        "#!lua name=s\nredis.register_function('s1', function() return y end)",
        "#!lua name=fl\nredis.register_function{function_name='ff', callback=function() return 1 end, flags={'allow-cross-slot-keys','no-cluster','allow-stale','allow-oom','no-writes'}}",
        "#!lua name=fl2\nredis.register_function{function_name='fg', callback=function() return 1 end, flags={'no-writes','no-writes'}}",
        "#!lua name=fl3\nredis.register_function{function_name='fh', callback=function() return 1 end, flags='no-writes'}",
        "#!lua name=fl4\nredis.register_function{callback=function() return 1 end}",
        "#!lua name=fl5\nredis.register_function{function_name='x'}",
        "#!lua name=fl6\nredis.register_function(1, function() end)",
        "#!lua name=fl7\nredis.register_function('a', 1)",
        "#!lua name=fl8\nredis.register_function('a', function() end, 3)",
        "#!lua name=fl9\nredis.register_function('', function() end)",
        "#!lua name=f-l\nredis.register_function('a', function() end)",
        "#!py name=fl\nredis.register_function('a', function() end)",
        "#!luax name=fl\nredis.register_function('a', function() end)",
        "#!lua name=fla foo=bar\nredis.register_function('a', function() end)",
        "#!lua name=flb\nredis.register_function('b1', function() return 1 end)\nredis.log(redis.LOG_NOTICE, 'loaded', redis.REDIS_VERSION)",
        "#!lua name=t\nredis.register_function('t1', function() local t = {} for k in pairs(_G) do t[#t + 1] = k end table.sort(t) return t end)",
        "#!lua name=u\nredis.register_function('u1', function() local t = {} for k in pairs(redis) do t[#t + 1] = k end table.sort(t) return t end)",
    ];
    let mut differences = Differences::default();
    for code in loads {
        let expected = client.command(&[b"FUNCTION", b"LOAD", code.as_bytes()]);
        let actual = match libraries.load(&mut host, code.as_bytes(), false) {
            Ok(name) => format!("${}\r\n{name}\r\n", name.len()).into_bytes(),
            Err(text) => format!("-{text}\r\n").into_bytes(),
        };
        differences.check(format_args!("load {code:?}"), &expected, &actual);
    }
    for function in ["d1", "e1", "n1", "q1", "r1", "s1", "t1", "u1"] {
        for protocol in [Protocol::Resp2, Protocol::Resp3] {
            let mut client = redis.connect(protocol);
            let expected = client.command(&[b"FCALL", function.as_bytes(), b"1", b"key1", b"arg1"]);
            let actual = libraries
                .call(&mut host, function, &[b"key1"], &[b"arg1"], protocol)
                .unwrap()
                .bytes;
            differences.check(
                format_args!("{protocol:?} FCALL {function}"),
                &expected,
                &actual,
            );
        }
    }
    differences.assert_none();
}
