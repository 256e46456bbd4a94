//! The Lua debugger (LDB) behind `SCRIPT DEBUG YES|SYNC` and `redis-cli --ldb`: one debugging
//! [`Session`] per EVAL, the line hook that stops the script, and the REPL that reads the
//! debugger's commands from the client while the script is stopped.
//!
//! The wire protocol is Redis 7.0's: at each stop the session sends the log lines gathered
//! since the last one as a RESP array of status replies, then reads one command (a RESP array
//! of at most 1,024 bulk strings of at most 1,024 bytes each, parsed as forgivingly as Redis
//! parses it) and answers it the same way, until a command resumes the script (`step`,
//! `next`, `continue`) or stops it (`abort`, a protocol error). The session reaches its client
//! only through [`DebugIo`], which blocks: the script holds the server while it is stopped, as
//! Redis's does. Values are shown as Redis shows them (`{1; 2}`, `{["k"]="v"}`, quoted strings,
//! `%g` numbers), and `<reply>` lines turn a command's RESP into Redis's human form.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, CStr};
use std::time::{Duration, Instant};

use mlua::debug::{Debug, DebugEvent};
use mlua::{ffi, Lua, Result, Table, VmState};

use crate::runtime::ErrorReply;

/// A string as Redis's `sdscatrepr` quotes it.
fn quote(bytes: &[u8], out: &mut Vec<u8>) {
    redis_lite_protocol::repr::repr(out, bytes);
}

/// The client's socket as the debugger uses it: blocking reads and writes.
pub trait DebugIo: Send {
    /// Writes all of `bytes`, or gives up (the next read then finds the client gone).
    fn write(&mut self, bytes: &[u8]);
    /// Reads what arrives into `buf`, waiting for it; 0 once the client is gone.
    fn read(&mut self, buf: &mut [u8]) -> usize;
}

/// Breakpoints one session may hold, as in Redis.
const MAX_BREAKPOINTS: usize = 64;
/// How deep nested tables are shown (ten tables, as Redis 7.0 shows them).
const MAX_VALUE_DEPTH: usize = 10;
/// The default `maxlen`.
const DEFAULT_MAXLEN: usize = 256;
/// The most a debugger command may take in the input buffer.
const MAX_INPUT: usize = 1 << 20;
/// The most arguments, and bytes per argument, of one debugger command.
const MAX_COMMAND_ITEMS: i64 = 1024;

/// One debugging session: the script's source by lines, the breakpoints, the log lines not yet
/// sent, and the client's pending input.
pub struct Session {
    io: Box<dyn DebugIo>,
    lines: Vec<Vec<u8>>,
    logs: Vec<Vec<u8>>,
    /// Breakpoint lines; only the first `breakpoint_count` count.
    breakpoints: [i32; MAX_BREAKPOINTS],
    breakpoint_count: usize,
    /// Stop at the next line (and log the commands the script runs meanwhile).
    step: bool,
    /// `redis.breakpoint()` was called: stop at the next line.
    lua_breakpoint: bool,
    current_line: i32,
    maxlen: usize,
    maxlen_hint_sent: bool,
    input: Vec<u8>,
    /// Where the search for the end of an incomplete header in `input` got.
    header_scan: Cell<HeaderScan>,
    /// When the script last ran free, and how long it may run before it is stopped as an
    /// infinite loop.
    started: Instant,
    time_limit: Duration,
    /// The scripts' environment, for `eval`.
    pub(crate) environment: Option<Table>,
}

impl Session {
    /// A session for `body` (EVAL's script), stopping at its first line. `time_limit` is
    /// `busy-reply-threshold`, or 5 seconds where that is 0.
    pub fn new(body: &[u8], io: Box<dyn DebugIo>, time_limit: Duration) -> Session {
        let mut end = body.len();
        while end > 0 && matches!(body[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let lines = match end {
            0 => Vec::new(),
            _ => body[..end]
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect(),
        };
        Session {
            io,
            lines,
            logs: Vec::new(),
            breakpoints: [0; MAX_BREAKPOINTS],
            breakpoint_count: 0,
            step: true,
            lua_breakpoint: false,
            current_line: 0,
            maxlen: DEFAULT_MAXLEN,
            maxlen_hint_sent: false,
            input: Vec::new(),
            header_scan: Cell::default(),
            started: Instant::now(),
            time_limit: if time_limit.is_zero() {
                Duration::from_secs(5)
            } else {
                time_limit
            },
            environment: None,
        }
    }

    /// Sends the remaining log lines and the `<endsession>` mark.
    pub fn end(&mut self) {
        self.log(b"<endsession>".to_vec());
        self.send_logs();
    }

    fn log(&mut self, line: Vec<u8>) {
        self.logs.push(line);
    }

    fn log_str(&mut self, line: &str) {
        self.log(line.as_bytes().to_vec());
    }

    /// Logs `line` cut at `maxlen`, with a hint the first time one is cut.
    fn log_with_maxlen(&mut self, mut line: Vec<u8>) {
        let trimmed = self.maxlen != 0 && line.len() > self.maxlen;
        if trimmed {
            line.truncate(self.maxlen);
            line.extend_from_slice(b" ...");
        }
        self.log(line);
        if trimmed && !self.maxlen_hint_sent {
            self.maxlen_hint_sent = true;
            self.log_str("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.");
        }
    }

    fn send_logs(&mut self) {
        let mut out = format!("*{}\r\n", self.logs.len()).into_bytes();
        for line in self.logs.drain(..) {
            out.push(b'+');
            out.extend(line.iter().map(|&b| match b {
                b'\r' | b'\n' => b' ',
                b => b,
            }));
            out.extend_from_slice(b"\r\n");
        }
        self.io.write(&out);
    }

    fn is_breakpoint(&self, line: i32) -> bool {
        self.breakpoints[..self.breakpoint_count].contains(&line)
    }

    fn log_source_line(&mut self, line: i32) {
        let prefix = match (self.current_line == line, self.is_breakpoint(line)) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut text = format!("{prefix}{line:<3} ").into_bytes();
        match usize::try_from(line - 1)
            .ok()
            .and_then(|i| self.lines.get(i))
        {
            Some(source) => text.extend_from_slice(source),
            None => text.extend_from_slice(b"<out of range source code line>"),
        }
        self.log(text);
    }

    fn list(&mut self, around: i32, context: i32) {
        for line in 1..=self.lines.len() as i32 {
            if around != 0 && (i64::from(around) - i64::from(line)).abs() > i64::from(context) {
                continue;
            }
            self.log_source_line(line);
        }
    }

    /// Whether the commands the script runs are logged (Redis's `ldbIsEnabled`).
    pub(crate) fn logging(&self) -> bool {
        self.step
    }

    /// `<redis> cmd args...`, the first ten words and a count of the rest.
    pub(crate) fn log_command(&mut self, argv: &[&[u8]]) {
        let mut text = b"<redis>".to_vec();
        for (index, arg) in argv.iter().enumerate() {
            if index == 10 {
                text.extend_from_slice(
                    format!(" ... ({} more)", argv.len() - index - 1).as_bytes(),
                );
                break;
            }
            text.push(b' ');
            text.extend_from_slice(arg);
        }
        self.log(text);
    }

    /// A command's reply: an error reply is also logged as `<error>`.
    pub(crate) fn log_reply(&mut self, reply: &[u8]) {
        if reply.first() == Some(&b'-') {
            let text = reply.strip_suffix(b"\r\n").unwrap_or(reply);
            self.log_error(text);
        }
        let mut text = b"<reply> ".to_vec();
        resp_to_human(reply, &mut text);
        self.log_with_maxlen(text);
    }

    pub(crate) fn log_error(&mut self, text: &[u8]) {
        let mut line = b"<error> ".to_vec();
        line.extend_from_slice(text);
        self.log(line);
    }

    fn help(&mut self) {
        for line in HELP {
            self.log_str(line);
        }
    }

    fn maxlen_command(&mut self, args: &[Vec<u8>]) {
        if args.len() == 2 {
            self.maxlen_hint_sent = true;
            let wanted = atoi(&args[1]);
            self.maxlen = if wanted != 0 && wanted <= 60 {
                60
            } else {
                wanted as usize
            };
        }
        match self.maxlen {
            0 => self.log_str("<value> replies are unlimited."),
            len => self.log(format!("<value> replies are truncated at {len} bytes.").into_bytes()),
        }
    }

    fn break_command(&mut self, args: &[Vec<u8>]) {
        if args.len() == 1 {
            if self.breakpoint_count == 0 {
                self.log_str("No breakpoints set. Use 'b <line>' to add one.");
                return;
            }
            self.log(format!("{} breakpoints set:", self.breakpoint_count).into_bytes());
            for index in 0..self.breakpoint_count {
                self.log_source_line(self.breakpoints[index]);
            }
            return;
        }
        for arg in &args[1..] {
            let Some(line) = strict_integer(arg) else {
                let mut text = b"Invalid argument:'".to_vec();
                text.extend_from_slice(arg);
                text.push(b'\'');
                self.log(text);
                continue;
            };
            if line == 0 {
                self.breakpoint_count = 0;
                self.log_str("All breakpoints removed.");
            } else if line > 0 {
                if self.breakpoint_count == MAX_BREAKPOINTS {
                    self.log_str("Too many breakpoints set.");
                } else if line <= self.lines.len() as i64 && !self.is_breakpoint(line as i32) {
                    self.breakpoints[self.breakpoint_count] = line as i32;
                    self.breakpoint_count += 1;
                    self.list(line as i32, 1);
                } else {
                    self.log_str("Wrong line number.");
                }
            } else if self.remove_breakpoint(line.unsigned_abs()) {
                self.log_str("Breakpoint removed.");
            } else {
                self.log_str("No breakpoint in the specified line.");
            }
        }
    }

    /// Removes a breakpoint as Redis 7.0 does: its `memmove` moves as many bytes as there are
    /// breakpoints after the removed one (not that many 4-byte entries), so with more than a
    /// few the later entries come out garbled; the same bytes move here.
    fn remove_breakpoint(&mut self, line: u64) -> bool {
        let Some(index) = self.breakpoints[..self.breakpoint_count]
            .iter()
            .position(|&b| i64::from(b) as u64 == line)
        else {
            return false;
        };
        self.breakpoint_count -= 1;
        let mut bytes: Vec<u8> = self
            .breakpoints
            .iter()
            .flat_map(|b| b.to_ne_bytes())
            .collect();
        let moved = self.breakpoint_count - index;
        bytes.copy_within((index + 1) * 4..(index + 1) * 4 + moved, index * 4);
        for (slot, chunk) in self.breakpoints.iter_mut().zip(bytes.chunks_exact(4)) {
            *slot = i32::from_ne_bytes(chunk.try_into().expect("four bytes"));
        }
        true
    }

    /// One complete command from the input, None if more is needed, or the protocol error.
    fn parse_command(&self) -> std::result::Result<Option<Vec<Vec<u8>>>, &'static str> {
        let data = &self.input;
        if data.is_empty() {
            return Ok(None);
        }
        // Redis searches the headers as C strings: a NUL ends each search.
        let Some(star) = data
            .iter()
            .take_while(|&&b| b != 0)
            .position(|&b| b == b'*')
        else {
            return Err(PROTOCOL_ERROR);
        };
        let Some((count, mut at)) = header(data, star, &self.header_scan)? else {
            return Ok(None);
        };
        let mut args = Vec::new();
        while (args.len() as i64) < count {
            if at >= data.len() || data[at] == 0 {
                return Ok(None);
            }
            if data[at] != b'$' {
                return Err(PROTOCOL_ERROR);
            }
            let Some((len, start)) = header(data, at, &self.header_scan)? else {
                return Ok(None);
            };
            let stop = start + len as usize;
            if stop + 2 > data.len() {
                return Ok(None);
            }
            args.push(data[start..stop].to_vec());
            if &data[stop..stop + 2] != b"\r\n" {
                return Err(PROTOCOL_ERROR);
            }
            at = stop + 2;
        }
        Ok(Some(args))
    }
}

const HELP: &[&str] = &[
    "Redis Lua debugger help:",
    "[h]elp               Show this help.",
    "[s]tep               Run current line and stop again.",
    "[n]ext               Alias for step.",
    "[c]ontinue           Run till next breakpoint.",
    "[l]ist               List source code around current line.",
    "[l]ist [line]        List source code around [line].",
    "                     line = 0 means: current position.",
    "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    "                     to show before/after [line].",
    "[w]hole              List all source code. Alias for 'list 1 1000000'.",
    "[p]rint              Show all the local variables.",
    "[p]rint <var>        Show the value of the specified variable.",
    "                     Can also show global vars KEYS and ARGV.",
    "[b]reak              Show all breakpoints.",
    "[b]reak <line>       Add a breakpoint to the specified line.",
    "[b]reak -<line>      Remove breakpoint from the specified line.",
    "[b]reak 0            Remove all breakpoints.",
    "[t]race              Show a backtrace.",
    "[e]val <code>        Execute some Lua code (in a different callframe).",
    "[r]edis <cmd>        Execute a Redis command.",
    "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    "                     Specifying zero as <len> means unlimited.",
    "[a]bort              Stop the execution of the script. In sync",
    "                     mode dataset changes will be retained.",
    "",
    "Debugger functions you can call from Lua scripts:",
    "redis.debug()        Produce logs in the debugger console.",
    "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    "                     next line of code.",
];

const PROTOCOL_ERROR: &str = "protocol error";

/// The count of the `*` or `$` header at `at` (1 to 1,024, else a protocol error) and where
/// the header's line ends; None while the line is incomplete.
fn header(
    data: &[u8],
    at: usize,
    scan: &Cell<HeaderScan>,
) -> std::result::Result<Option<(i64, usize)>, &'static str> {
    let Some(line_end) = find_line_end(data, at, scan) else {
        return Ok(None);
    };
    let count = atoi(&data[at + 1..line_end]);
    if count <= 0 || count > MAX_COMMAND_ITEMS {
        return Err(PROTOCOL_ERROR);
    }
    Ok(Some((count, line_end + 2)))
}

/// How far the search for an incomplete header's line end got: the input only grows until a
/// command is parsed, so the next search for the same header goes on from there instead of
/// scanning a long line again for every 1 KB read.
#[derive(Clone, Copy, Default)]
struct HeaderScan {
    header: usize,
    searched_to: usize,
    /// The line ended at a NUL: as a C string it never ends.
    at_nul: bool,
}

/// Where the header line starting at `at` ends ("\r\n", before any NUL: C's `strstr`).
fn find_line_end(data: &[u8], at: usize, scan: &Cell<HeaderScan>) -> Option<usize> {
    let known = scan.get();
    let mut from = at;
    if known.header == at && known.searched_to > at {
        if known.at_nul {
            return None;
        }
        from = known.searched_to - 1;
    }
    let found = find_crlf(data, from);
    if found.is_none() {
        let at_nul = data[from..].contains(&0);
        scan.set(HeaderScan {
            header: at,
            searched_to: data.len(),
            at_nul,
        });
    }
    found
}

/// Where "\r\n" starts at or after `from`, before any NUL (C's `strstr`).
fn find_crlf(data: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at + 1 < data.len() {
        match data[at] {
            0 => return None,
            b'\r' if data[at + 1] == b'\n' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// C's `atoi`: leading blanks, a sign, the digits up to the first other byte; 0 if none.
fn atoi(text: &[u8]) -> i64 {
    let mut rest = text;
    while let [b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c', tail @ ..] = rest {
        rest = tail;
    }
    let negative = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'-' | b'+')) {
        rest = &rest[1..];
    }
    let mut value: i64 = 0;
    for &b in rest.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    let value = if negative { -value } else { value };
    // C's atoi returns an int.
    value as i32 as i64
}

/// Redis's strict integer parsing (`string2l`): no blanks, no plus sign, no leading zeros.
fn strict_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && (digits.len() > 1 || digits.len() != text.len()))
    {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Appends a RESP reply in Redis's human form (`"+OK"`, `"bar"`, `[1,NULL]`); returns the
/// bytes after it.
fn resp_to_human<'a>(reply: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
    let Some(kind) = reply.first() else {
        return reply;
    };
    let line_end = find_crlf(reply, 0).unwrap_or(reply.len());
    let header = &reply[1..line_end];
    let rest = reply.get(line_end + 2..).unwrap_or_default();
    let count = || {
        std::str::from_utf8(header)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
    };
    match kind {
        b':' => out.extend_from_slice(header),
        b'+' | b'-' => quote(&reply[..line_end], out),
        b'$' => match count() {
            Some(len) if len >= 0 && rest.len() >= len as usize => {
                quote(&rest[..len as usize], out);
                return rest.get(len as usize + 2..).unwrap_or_default();
            }
            _ => out.extend_from_slice(b"NULL"),
        },
        b'*' | b'~' | b'%' => {
            let Some(len) = count().filter(|&n| n >= 0) else {
                out.extend_from_slice(b"NULL");
                return rest;
            };
            let (open, close): (&[u8], &[u8]) = match kind {
                b'*' => (b"[", b"]"),
                b'~' => (b"~(", b")"),
                _ => (b"{", b"}"),
            };
            out.extend_from_slice(open);
            let mut rest = rest;
            for index in 0..len {
                rest = resp_to_human(rest, out);
                if *kind == b'%' {
                    out.extend_from_slice(b" => ");
                    rest = resp_to_human(rest, out);
                }
                if index != len - 1 {
                    out.push(b',');
                }
            }
            out.extend_from_slice(close);
            return rest;
        }
        b'_' => out.extend_from_slice(b"(null)"),
        b'#' => out.extend_from_slice(if header == b"t" { b"#true" } else { b"#false" }),
        b',' => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(header);
        }
        // Redis 7.0 shows nothing for big numbers, verbatim strings and attributes.
        _ => {}
    }
    rest
}

/// Appends the value at `index` as Redis shows Lua values.
///
/// # Safety
/// `state` is a Lua state with `index` a valid stack index.
unsafe fn cat_value(state: *mut ffi::lua_State, index: c_int, level: usize, out: &mut Vec<u8>) {
    if level == MAX_VALUE_DEPTH {
        out.extend_from_slice(b"<max recursion level reached! Nested table?>");
        return;
    }
    let index = if index < 0 {
        ffi::lua_gettop(state) + index + 1
    } else {
        index
    };
    match ffi::lua_type(state, index) {
        ffi::LUA_TSTRING => {
            let mut len = 0;
            let data = ffi::lua_tolstring(state, index, &mut len);
            quote(std::slice::from_raw_parts(data.cast(), len), out);
        }
        ffi::LUA_TBOOLEAN => out.extend_from_slice(match ffi::lua_toboolean(state, index) {
            0 => b"false",
            _ => b"true",
        }),
        ffi::LUA_TNUMBER => match ffi::lua_tonumber(state, index) {
            // C's `%g` keeps a NaN's sign (0/0 is negative on x86).
            n if n.is_nan() && n.is_sign_negative() => out.extend_from_slice(b"-nan"),
            n => crate::libs::cjson::format_number(n, 6, out),
        },
        ffi::LUA_TNIL => out.extend_from_slice(b"nil"),
        ffi::LUA_TTABLE => {
            if ffi::lua_checkstack(state, 3) == 0 {
                out.extend_from_slice(b"<max recursion level reached! Nested table?>");
                return;
            }
            let (mut as_array, mut as_map) = (Vec::new(), Vec::new());
            let mut is_array = true;
            let mut expected = 1.0;
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, index) != 0 {
                if is_array
                    && (ffi::lua_type(state, -2) != ffi::LUA_TNUMBER
                        || ffi::lua_tonumber(state, -2) != expected)
                {
                    is_array = false;
                }
                cat_value(state, -1, level + 1, &mut as_array);
                as_array.extend_from_slice(b"; ");
                as_map.push(b'[');
                cat_value(state, -2, level + 1, &mut as_map);
                as_map.extend_from_slice(b"]=");
                cat_value(state, -1, level + 1, &mut as_map);
                as_map.extend_from_slice(b"; ");
                ffi::lua_pop(state, 1);
                expected += 1.0;
            }
            let chosen = if is_array { as_array } else { as_map };
            out.push(b'{');
            out.extend_from_slice(&chosen[..chosen.len().saturating_sub(2)]);
            out.push(b'}');
        }
        kind => {
            let name = match kind {
                ffi::LUA_TFUNCTION => "function",
                ffi::LUA_TUSERDATA => "userdata",
                ffi::LUA_TTHREAD => "thread",
                ffi::LUA_TLIGHTUSERDATA => "light-userdata",
                _ => {
                    out.extend_from_slice(b"\"<unknown-lua-type>\"");
                    return;
                }
            };
            let pointer = ffi::lua_topointer(state, index);
            out.extend_from_slice(format!("\"{name}@{pointer:p}\"").as_bytes());
        }
    }
}

/// `redis.debug(...)`: logs its arguments (nothing outside a session).
///
/// # Safety
/// `state` is the Lua state running the call, its arguments on the stack.
pub(crate) unsafe fn log_debug_call(state: *mut ffi::lua_State, session: &RefCell<Session>) {
    let mut session = session.borrow_mut();
    let mut text = format!("<debug> line {}: ", session.current_line).into_bytes();
    let count = ffi::lua_gettop(state);
    for index in 1..=count {
        cat_value(state, index, 0, &mut text);
        if index != count {
            text.extend_from_slice(b", ");
        }
    }
    session.log(text);
}

/// `redis.breakpoint()`: the script stops at its next line.
pub(crate) fn request_breakpoint(session: &RefCell<Session>) {
    session.borrow_mut().lua_breakpoint = true;
}

/// The debugger's line and count hook: stops the script where it must and runs the REPL.
pub(crate) fn hook(lua: &Lua, debug: &Debug, session: &RefCell<Session>) -> Result<VmState> {
    let line = debug.current_line().map_or(-1, |l| l as i32);
    let in_script = debug
        .source()
        .short_src
        .is_some_and(|src| src.contains("user_script"));
    let (stop, timeout, reason) = {
        let mut s = session.borrow_mut();
        if !in_script {
            return Ok(VmState::Continue);
        }
        s.current_line = line;
        let breakpoint = s.is_breakpoint(line) || s.lua_breakpoint;
        let mut timeout = false;
        if debug.event() == DebugEvent::Count && !s.step && !breakpoint {
            if s.started.elapsed() < s.time_limit {
                return Ok(VmState::Continue);
            }
            timeout = true;
            s.step = true;
        }
        let reason = if breakpoint {
            if s.lua_breakpoint {
                "redis.breakpoint() called"
            } else {
                "break point"
            }
        } else if timeout {
            "timeout reached, infinite loop?"
        } else {
            "step over"
        };
        (s.step || breakpoint, timeout, reason)
    };
    if !stop {
        return Ok(VmState::Continue);
    }
    {
        let mut s = session.borrow_mut();
        s.step = false;
        s.lua_breakpoint = false;
        s.log(format!("* Stopped at {line}, stop reason = {reason}").into_bytes());
        s.log_source_line(line);
        s.send_logs();
    }
    let connected = repl(lua, session)?;
    if !connected && timeout {
        return Err(script_error(
            "timeout during Lua debugging with client closing connection",
        ));
    }
    session.borrow_mut().started = Instant::now();
    Ok(VmState::Continue)
}

fn script_error(text: &str) -> mlua::Error {
    mlua::Error::external(ErrorReply(format!("ERR {text}").into_bytes()))
}

/// Reads and runs debugger commands until one resumes the script. False when the client went
/// away (the script then runs to its end without stopping).
fn repl(lua: &Lua, session: &RefCell<Session>) -> Result<bool> {
    loop {
        let args = loop {
            let parsed = session.borrow().parse_command();
            match parsed {
                Ok(Some(args)) => break args,
                Err(text) => return Err(script_error(text)),
                Ok(None) => {}
            }
            let mut s = session.borrow_mut();
            let mut buf = [0u8; 1024];
            let read = s.io.read(&mut buf);
            if read == 0 {
                s.step = false;
                s.breakpoint_count = 0;
                return Ok(false);
            }
            s.input.extend_from_slice(&buf[..read]);
            if s.input.len() > MAX_INPUT {
                s.input = Vec::new();
                s.header_scan = Cell::default();
                return Err(script_error("max client buffer reached"));
            }
        };
        {
            let mut s = session.borrow_mut();
            s.input.clear();
            s.header_scan = Cell::default();
        }
        let name = args[0].to_ascii_lowercase();
        let is = |short: &[u8], long: &[u8]| name == short || name == long;
        if is(b"h", b"help") {
            session.borrow_mut().help();
        } else if is(b"s", b"step") || is(b"n", b"next") {
            session.borrow_mut().step = true;
            return Ok(true);
        } else if is(b"c", b"continue") {
            return Ok(true);
        } else if is(b"t", b"trace") {
            // SAFETY: inside the hook, the stack holds the script's frames.
            lua.exec_raw_lua(|raw| unsafe { trace(raw.state(), session) });
        } else if is(b"m", b"maxlen") {
            session.borrow_mut().maxlen_command(&args);
        } else if is(b"b", b"break") {
            session.borrow_mut().break_command(&args);
        } else if is(b"e", b"eval") {
            eval(lua, session, &args);
        } else if is(b"a", b"abort") {
            return Err(script_error("script aborted for user request"));
        } else if args.len() > 1 && is(b"r", b"redis") {
            run_redis(lua, session, &args);
        } else if is(b"p", b"print") {
            // SAFETY: as for `trace`.
            lua.exec_raw_lua(|raw| unsafe {
                match args.get(1).filter(|_| args.len() == 2) {
                    Some(name) => print_variable(raw.state(), session, name),
                    None => print_locals(raw.state(), session),
                }
            });
        } else if is(b"l", b"list") {
            let mut s = session.borrow_mut();
            let mut around = s.current_line;
            let mut context = 5;
            if let Some(line) = args.get(1).map(|a| atoi(a) as i32) {
                if line > 0 {
                    around = line;
                }
            }
            if let Some(lines) = args.get(2) {
                context = atoi(lines) as i32;
            }
            s.list(around, context);
        } else if is(b"w", b"whole") {
            session.borrow_mut().list(1, 1_000_000);
        } else {
            session.borrow_mut().log_str(
                "<error> Unknown Redis Lua debugger command or wrong number of arguments.",
            );
        }
        session.borrow_mut().send_logs();
    }
}

/// The locals of the frame where the script stopped.
///
/// # Safety
/// `state` is the state the hook runs in.
unsafe fn print_locals(state: *mut ffi::lua_State, session: &RefCell<Session>) {
    let mut session = session.borrow_mut();
    let mut found = 0;
    let mut frame: ffi::lua_Debug = std::mem::zeroed();
    if ffi::lua_getstack(state, 0, &mut frame) != 0 {
        find_local(state, &frame, |name| {
            if !contains(name, b"(*temporary)") {
                let mut text = b"<value> ".to_vec();
                text.extend_from_slice(name);
                text.extend_from_slice(b" = ");
                cat_value(state, -1, 0, &mut text);
                session.log_with_maxlen(text);
                found += 1;
            }
            false
        });
    }
    if found == 0 {
        session.log_str("No local variables in the current context.");
    }
}

/// Calls `visit` with the name of each local of `frame`, its value on top of the stack, until
/// `visit` answers true; returns whether it did.
///
/// # Safety
/// As [`print_locals`], `frame` filled by `lua_getstack`.
unsafe fn find_local(
    state: *mut ffi::lua_State,
    frame: &ffi::lua_Debug,
    mut visit: impl FnMut(&[u8]) -> bool,
) -> bool {
    let mut index = 1;
    loop {
        let name = ffi::lua_getlocal(state, frame, index);
        if name.is_null() {
            return false;
        }
        index += 1;
        let done = visit(CStr::from_ptr(name).to_bytes());
        ffi::lua_pop(state, 1);
        if done {
            return true;
        }
    }
}

/// One variable: a local of any frame, innermost first, or KEYS or ARGV.
///
/// # Safety
/// As [`print_locals`].
unsafe fn print_variable(state: *mut ffi::lua_State, session: &RefCell<Session>, wanted: &[u8]) {
    let mut session = session.borrow_mut();
    let mut frame: ffi::lua_Debug = std::mem::zeroed();
    let mut level = 0;
    while ffi::lua_getstack(state, level, &mut frame) != 0 {
        level += 1;
        let found = find_local(state, &frame, |name| {
            if name != wanted {
                return false;
            }
            let mut text = b"<value> ".to_vec();
            cat_value(state, -1, 0, &mut text);
            session.log_with_maxlen(text);
            true
        });
        if found {
            return;
        }
    }
    if wanted == b"ARGV" || wanted == b"KEYS" {
        let name = if wanted == b"ARGV" { c"ARGV" } else { c"KEYS" };
        ffi::lua_getfield(state, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        let mut text = b"<value> ".to_vec();
        cat_value(state, -1, 0, &mut text);
        ffi::lua_pop(state, 1);
        session.log_with_maxlen(text);
    } else {
        session.log_str("No such variable.");
    }
}

/// The script's frames, innermost first.
///
/// # Safety
/// As [`print_locals`].
unsafe fn trace(state: *mut ffi::lua_State, session: &RefCell<Session>) {
    let mut session = session.borrow_mut();
    let mut frame: ffi::lua_Debug = std::mem::zeroed();
    let mut level = 0;
    while ffi::lua_getstack(state, level, &mut frame) != 0 {
        ffi::lua_getinfo(state, c"Snl".as_ptr(), &mut frame);
        let short_src = CStr::from_ptr(frame.short_src.as_ptr()).to_bytes();
        if contains(short_src, b"user_script") {
            let name = match frame.name.is_null() {
                true => "top level".to_string(),
                false => CStr::from_ptr(frame.name).to_string_lossy().into_owned(),
            };
            let place = if level == 0 { "In" } else { "From" };
            session.log(format!("{place} {name}:").into_bytes());
            session.log_source_line(frame.currentline);
        }
        level += 1;
    }
    if level == 0 {
        session.log_str("<error> Can't retrieve Lua stack.");
    }
}

/// `eval <code>`: the code as an expression, else as statements, in the scripts'
/// environment; its value or its error is logged.
fn eval(lua: &Lua, session: &RefCell<Session>, args: &[Vec<u8>]) {
    let code = args[1..].join(&b' ');
    let environment = session.borrow().environment.clone();
    let mut expression = b"return ".to_vec();
    expression.extend_from_slice(&code);
    let load = |source: &[u8]| {
        let chunk = lua.load(source).set_name("@ldb_eval");
        match &environment {
            Some(env) => chunk.set_environment(env.clone()),
            None => chunk,
        }
        .into_function()
    };
    let function = match load(&expression).or_else(|_| load(&code)) {
        Ok(function) => function,
        Err(error) => {
            let mut text = b"<error> ".to_vec();
            text.extend_from_slice(lua_error_text(&error).as_bytes());
            session.borrow_mut().log(text);
            return;
        }
    };
    // SAFETY: the function is pushed and called on the hook's state in a protected call; the
    // stack is put back as it was.
    lua.exec_raw_lua(|raw| unsafe {
        let state = raw.state();
        let top = ffi::lua_gettop(state);
        if ffi::lua_checkstack(state, 2) == 0 || raw.push(&function).is_err() {
            return;
        }
        if ffi::lua_pcall(state, 0, 1, 0) != 0 {
            let mut text = b"<error> ".to_vec();
            let mut len = 0;
            let message = ffi::lua_tolstring(state, -1, &mut len);
            match message.is_null() {
                true => text.extend_from_slice(b"(null)"),
                false => text.extend_from_slice(std::slice::from_raw_parts(message.cast(), len)),
            }
            session.borrow_mut().log(text);
        } else {
            let mut text = b"<retval> ".to_vec();
            cat_value(state, -1, 0, &mut text);
            session.borrow_mut().log_with_maxlen(text);
        }
        ffi::lua_settop(state, top);
    });
}

/// A Lua compile error's message, as `lua_tostring` gives it.
fn lua_error_text(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// `redis <cmd...>`: runs the command through `redis.call` with logging on, its error ignored.
fn run_redis(lua: &Lua, session: &RefCell<Session>, args: &[Vec<u8>]) {
    // SAFETY: the call is protected and the stack is put back as it was.
    lua.exec_raw_lua(|raw| unsafe {
        let state = raw.state();
        let top = ffi::lua_gettop(state);
        if ffi::lua_checkstack(state, args.len() as c_int + 1) == 0 {
            let mut s = session.borrow_mut();
            s.log_with_maxlen(b"<reply> \"max lua stack reached\"".to_vec());
            return;
        }
        ffi::lua_getfield(state, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());
        ffi::lua_getfield(state, -1, c"call".as_ptr());
        for arg in &args[1..] {
            ffi::lua_pushlstring(state, arg.as_ptr().cast(), arg.len());
        }
        session.borrow_mut().step = true;
        ffi::lua_pcall(state, args.len() as c_int - 1, 1, 0);
        session.borrow_mut().step = false;
        ffi::lua_settop(state, top);
    });
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_human_form() {
        let human = |reply: &[u8]| {
            let mut out = Vec::new();
            resp_to_human(reply, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(human(b"+OK\r\n"), "\"+OK\"");
        assert_eq!(human(b"-ERR x\r\n"), "\"-ERR x\"");
        assert_eq!(human(b"$3\r\nbar\r\n"), "\"bar\"");
        assert_eq!(human(b"*3\r\n$-1\r\n:5\r\n*0\r\n"), "[NULL,5,[]]");
    }

    struct NoIo;
    impl DebugIo for NoIo {
        fn write(&mut self, _: &[u8]) {}
        fn read(&mut self, _: &mut [u8]) -> usize {
            0
        }
    }

    /// Feeds `input` a kilobyte at a time, as the session reads it, and returns the first
    /// outcome that is not "more is needed".
    fn parse_in_chunks(input: &[u8]) -> std::result::Result<Option<Vec<Vec<u8>>>, &'static str> {
        let mut session = Session::new(b"return 1", Box::new(NoIo), Duration::ZERO);
        for chunk in input.chunks(1024) {
            session.input.extend_from_slice(chunk);
            if let Some(done) = session.parse_command().transpose() {
                return done.map(Some);
            }
        }
        Ok(None)
    }

    #[test]
    fn debugger_commands_parse_as_redis_parses_them() {
        assert_eq!(
            parse_in_chunks(b"*2\r\n$1\r\np\r\n$3\r\na\x00b\r\n"),
            Ok(Some(vec![b"p".to_vec(), b"a\x00b".to_vec()]))
        );
        assert_eq!(parse_in_chunks(b"garbage"), Err("protocol error"));
        assert_eq!(parse_in_chunks(b"*1025\r\n"), Err("protocol error"));
        assert_eq!(parse_in_chunks(b"*1\r\n$0\r\n\r\n"), Err("protocol error"));
        assert_eq!(parse_in_chunks(b"*1\r\n$1\r\npxx"), Err("protocol error"));
        // A NUL in a header ends it for good, as in a C string.
        assert_eq!(parse_in_chunks(b"*1\x00\r\n$1\r\np\r\n"), Ok(None));
        // A long header line is searched once, not again for every kilobyte.
        let mut long = b"*".to_vec();
        long.extend(std::iter::repeat_n(b'1', 200_000));
        long.extend_from_slice(b"\r\n");
        assert_eq!(parse_in_chunks(&long), Err("protocol error"));
        // A line end split between two reads.
        let mut split = b"*1".to_vec();
        split.resize(1023, b' ');
        split.extend_from_slice(b"\r\n$1\r\np\r\n");
        assert_eq!(parse_in_chunks(&split), Ok(Some(vec![b"p".to_vec()])));
    }

    #[test]
    fn c_atoi_and_strict_integers() {
        assert_eq!(atoi(b" 12x"), 12);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(atoi(b"x"), 0);
        assert_eq!(strict_integer(b"-6"), Some(-6));
        assert_eq!(strict_integer(b"06"), None);
        assert_eq!(strict_integer(b"+6"), None);
    }
}
