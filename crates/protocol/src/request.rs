//! Client requests: a resumable parser over a connection's query buffer.
//!
//! The parser records argument positions as offsets into the caller's buffer, so a command is
//! executed straight from the bytes that arrived, and a frame split across reads resumes where it
//! stopped: completed arguments are never looked at again.

use std::fmt;
use std::ops::Range;

/// Sizes a client controls, with Redis's defaults.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk string in a request.
    pub max_bulk_len: u64,
    /// The longest inline command and the longest `*`/`$` header line.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Unauthenticated clients may only send small frames, as in Redis, so a client without the
/// password cannot make the server allocate.
const UNAUTHENTICATED_MAX_ARGS: u64 = 10;
const UNAUTHENTICATED_MAX_BULK: u64 = 16384;

/// A malformed request. The connection replies `-ERR Protocol error: <text>` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    /// More than 10 arguments from a client that has not authenticated.
    UnauthenticatedMultibulkLength,
    /// A bulk over 16 KiB from a client that has not authenticated.
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", *c as char),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl ProtocolError {
    /// The error text as sent to the client, without the `ERR ` code. Unlike [`Display`]
    /// (for logs), it carries the offending byte raw, as Redis does: `*1\r\n\x9d\r\n` gets
    /// `got '\x9d'`, not the two-byte UTF-8 encoding of U+009D.
    ///
    /// [`Display`]: fmt::Display
    pub fn reply_text(&self) -> Vec<u8> {
        match self {
            ProtocolError::ExpectedDollar(c) => {
                let mut out = b"Protocol error: expected '$', got '".to_vec();
                out.push(*c);
                out.push(b'\'');
                out
            }
            other => other.to_string().into_bytes(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between frames.
    Idle,
    /// Inside a multibulk: `remaining` arguments still to come; `bulk` is the length of the one
    /// whose header was read, if any.
    Multibulk { remaining: u64, bulk: Option<usize> },
}

/// Where an argument of the current command lies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    /// Bytes of the query buffer.
    InBuffer(Range<usize>),
    /// Inline arguments with quotes or escapes are unescaped into the parser's own storage.
    Owned(Range<usize>),
}

/// Argument slots the parser keeps between commands.
const KEEP_ARGS: usize = 1024;

/// Parses commands out of a growing query buffer. See the module docs.
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    state: State,
    /// Offset in the buffer where parsing resumes.
    pos: usize,
    /// Where the current (possibly partial) frame begins.
    frame_start: usize,
    /// Where the search for an inline newline resumes, so a long partial line is scanned once.
    inline_scan: usize,
    /// The current inline line has a NUL before its newline. Redis looks for the newline with
    /// `strchr`, which stops at the NUL, so such a line never completes: the client waits until
    /// the line outgrows the inline limit. Once set, the frame can only end in that error.
    inline_nul: bool,
    args: Vec<Arg>,
    owned: Vec<u8>,
    /// Whether the client has authenticated, which lifts the small-frame limits.
    pub authenticated: bool,
}

/// The arguments of one complete command, borrowed from the buffer and the parser.
pub struct Command<'a> {
    buf: &'a [u8],
    parser: &'a RequestParser,
}

impl<'a> Command<'a> {
    pub fn len(&self) -> usize {
        self.parser.args.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parser.args.is_empty()
    }

    pub fn get(&self, i: usize) -> &'a [u8] {
        match &self.parser.args[i] {
            Arg::InBuffer(r) => &self.buf[r.clone()],
            Arg::Owned(r) => &self.parser.owned[r.clone()],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Where this command's frame ends in the buffer: the bytes before it are consumed (a
    /// replica counts them into its replication offset).
    pub fn frame_end(&self) -> usize {
        self.parser.frame_start
    }
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            state: State::Idle,
            pos: 0,
            frame_start: 0,
            inline_scan: 0,
            inline_nul: false,
            args: Vec::new(),
            owned: Vec::new(),
            authenticated: true,
        }
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Bytes of `buf` that belong to finished frames and may be discarded.
    pub fn consumed(&self) -> usize {
        self.frame_start
    }

    /// Bytes of the buffer already parsed into arguments or finished frames; what lies beyond is
    /// unparsed input, which is what `client-query-buffer-limit` bounds (Redis likewise moves
    /// parsed arguments out of its query buffer).
    pub fn parsed(&self) -> usize {
        self.pos
    }

    /// While an argument of at least `min` bytes is being received: how many of its bytes (with
    /// the CRLF after them) are still missing from a buffer of `buf_len` bytes. A server that
    /// reads no further than that keeps a big argument alone at the end of its buffer, as Redis
    /// does, so `client-query-buffer-limit` counts it whole and nothing past it.
    pub fn big_arg_missing(&self, buf_len: usize, min: usize) -> Option<usize> {
        match self.state {
            State::Multibulk {
                bulk: Some(len), ..
            } if len >= min => Some((self.pos + len + 2).saturating_sub(buf_len)),
            _ => None,
        }
    }

    /// Bytes of the arguments already parsed out of a frame that is not complete yet (Redis's
    /// `argv-mem` for such a client: it moves parsed arguments out of its query buffer).
    pub fn partial_args_len(&self) -> usize {
        if self.state == State::Idle {
            return 0;
        }
        self.args
            .iter()
            .map(|arg| match arg {
                Arg::InBuffer(r) | Arg::Owned(r) => r.len(),
            })
            .sum()
    }

    /// Whether a frame has started but is not complete yet.
    pub fn in_frame(&self) -> bool {
        self.state != State::Idle || self.pos > self.frame_start
    }

    /// The caller dropped the first `n` bytes (at most [`consumed`](Self::consumed)) of its buffer.
    pub fn discard(&mut self, n: usize) {
        debug_assert!(n <= self.frame_start);
        self.pos -= n;
        self.frame_start -= n;
        self.inline_scan = self.inline_scan.saturating_sub(n);
        if self.state == State::Idle {
            // The arguments belong to a command that was already handed out. A command with
            // many gives their slots back, as Redis frees each command's argument vector:
            // 100,000 of them would otherwise stay counted in `used_memory` for good.
            self.args.clear();
            self.args.shrink_to(KEEP_ARGS);
            return;
        }
        for arg in &mut self.args {
            if let Arg::InBuffer(r) = arg {
                *r = r.start - n..r.end - n;
            }
        }
    }

    /// The command the last [`Self::next`] returned, again, from the same `buf`: its arguments
    /// stay until the next call. Only valid right after `next` returned a command.
    pub fn again<'a>(&'a self, buf: &'a [u8]) -> Command<'a> {
        debug_assert!(self.state == State::Idle && !self.args.is_empty());
        Command { buf, parser: self }
    }

    /// Parses the next complete command from `buf`, which holds everything received and not yet
    /// discarded. Returns `Ok(None)` when more bytes are needed. Empty frames (`*0`, blank inline
    /// lines) are skipped, as Redis does.
    pub fn next<'a>(&'a mut self, buf: &'a [u8]) -> Result<Option<Command<'a>>, ProtocolError> {
        loop {
            if self.state == State::Idle {
                if self.pos >= buf.len() {
                    return Ok(None);
                }
                self.frame_start = self.pos;
                self.args.clear();
                self.owned.clear();
                if buf[self.pos] != b'*' {
                    if !self.parse_inline(buf)? {
                        return Ok(None);
                    }
                    self.frame_start = self.pos;
                    if self.args.is_empty() {
                        continue;
                    }
                    return Ok(Some(Command { buf, parser: self }));
                }
                let Some(count) = self.header_line(buf, ProtocolError::TooBigMultibulkCount)?
                else {
                    return Ok(None);
                };
                let count = match count {
                    Some(n) if n <= i32::MAX as i64 => n,
                    _ => return Err(ProtocolError::InvalidMultibulkLength),
                };
                if !self.authenticated && count > UNAUTHENTICATED_MAX_ARGS as i64 {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                if count <= 0 {
                    self.frame_start = self.pos;
                    continue;
                }
                // Cap the up-front reservation: the count is only a claim until the bytes arrive.
                self.args.reserve((count as usize).min(1024));
                self.state = State::Multibulk {
                    remaining: count as u64,
                    bulk: None,
                };
            }
            if !self.parse_multibulk(buf)? {
                return Ok(None);
            }
            self.state = State::Idle;
            self.frame_start = self.pos;
            return Ok(Some(Command { buf, parser: self }));
        }
    }

    /// Reads a `*<n>\r\n` or `$<n>\r\n` line at `pos`. `Ok(None)` means incomplete; the inner
    /// `None` means the number did not parse.
    fn header_line(
        &mut self,
        buf: &[u8],
        too_long: ProtocolError,
    ) -> Result<Option<Option<i64>>, ProtocolError> {
        let start = self.pos;
        // Like Redis: the header ends at the first '\r'; the byte after it is skipped unchecked.
        // The length limit applies only while the '\r' has not arrived: a complete over-long
        // line is just an invalid number.
        let rest = &buf[start..];
        // Redis finds the '\r' with `strchr`, which stops at a NUL: a header line with a NUL
        // before its '\r' never completes.
        let cr = rest
            .iter()
            .position(|&b| b == b'\r' || b == 0)
            .filter(|&i| rest[i] == b'\r');
        let Some(cr) = cr else {
            if rest.len() > self.limits.max_inline_len {
                return Err(too_long);
            }
            return Ok(None);
        };
        if cr + 2 > rest.len() {
            return Ok(None);
        }
        // A bulk header may start with its '\r' (the caller then refuses the missing '$').
        let number = rest.get(1..cr).and_then(crate::number::parse_i64);
        self.pos = start + cr + 2;
        Ok(Some(number))
    }

    /// Continues a multibulk frame. Returns true when all its arguments are in.
    fn parse_multibulk(&mut self, buf: &[u8]) -> Result<bool, ProtocolError> {
        while let State::Multibulk { remaining, bulk } = self.state {
            if remaining == 0 {
                return Ok(true);
            }
            if bulk.is_none() {
                if let Some((start, len)) = self.whole_bulk(buf) {
                    self.args.push(Arg::InBuffer(start..start + len));
                    self.pos = start + len + 2;
                    self.state = State::Multibulk {
                        remaining: remaining - 1,
                        bulk: None,
                    };
                    continue;
                }
            }
            let len = match bulk {
                Some(len) => len,
                None => {
                    let Some(&first) = buf.get(self.pos) else {
                        return Ok(false);
                    };
                    // As in Redis, the line must be complete before its first byte is checked:
                    // `*1\r\nfoo` waits for more, and a long line without '\r' is "too big".
                    let Some(number) = self.header_line(buf, ProtocolError::TooBigBulkCount)?
                    else {
                        return Ok(false);
                    };
                    if first != b'$' {
                        return Err(ProtocolError::ExpectedDollar(first));
                    }
                    let len = match number {
                        Some(n) if n >= 0 && (n as u64) <= self.limits.max_bulk_len => n as u64,
                        _ => return Err(ProtocolError::InvalidBulkLength),
                    };
                    if !self.authenticated && len > UNAUTHENTICATED_MAX_BULK {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    let len = len as usize;
                    self.state = State::Multibulk {
                        remaining,
                        bulk: Some(len),
                    };
                    len
                }
            };
            // The two bytes after the payload are the CRLF, skipped unchecked as Redis does.
            if buf.len() - self.pos < len + 2 {
                return Ok(false);
            }
            self.args.push(Arg::InBuffer(self.pos..self.pos + len));
            self.pos += len + 2;
            self.state = State::Multibulk {
                remaining: remaining - 1,
                bulk: None,
            };
        }
        Ok(true)
    }

    /// The usual bulk argument, taken in one pass: a `$<digits>\r\n` header with no leading
    /// zero and a length within the limits, followed by the whole payload and its CRLF. Returns
    /// the payload's start and length; anything else (incomplete, malformed, too long) is left
    /// to the general path, which waits or refuses it exactly as Redis does. The general path
    /// scans the line, then parses the number, then steps its state per field: a sixth of
    /// MSET's instructions at -c 50.
    fn whole_bulk(&self, buf: &[u8]) -> Option<(usize, usize)> {
        let rest = buf.get(self.pos..)?;
        if rest.first() != Some(&b'$')
            || (rest.get(1) == Some(&b'0') && rest.get(2) != Some(&b'\r'))
        {
            return None;
        }
        let mut len: u64 = 0;
        let mut i = 1;
        loop {
            match *rest.get(i)? {
                // Eighteen digits cannot overflow.
                digit @ b'0'..=b'9' if i <= 18 => len = len * 10 + u64::from(digit - b'0'),
                b'\r' if i > 1 => break,
                _ => return None,
            }
            i += 1;
        }
        let allowed = if self.authenticated {
            self.limits.max_bulk_len
        } else {
            UNAUTHENTICATED_MAX_BULK.min(self.limits.max_bulk_len)
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len as u64 <= allowed)?;
        // The header's CRLF, the payload and its CRLF (both pairs skipped unchecked, as Redis).
        (rest.len() - i >= 2 + len + 2).then_some((self.pos + i + 2, len))
    }

    /// Parses an inline command line. Returns false when the newline has not arrived yet.
    fn parse_inline(&mut self, buf: &[u8]) -> Result<bool, ProtocolError> {
        let scan_from = self.inline_scan.max(self.pos);
        let found = if self.inline_nul {
            None
        } else {
            buf[scan_from..].iter().position(|&b| b == b'\n' || b == 0)
        };
        if let Some(i) = found {
            // See `inline_nul`: a NUL before the newline hides it for good.
            self.inline_nul = buf[scan_from + i] == 0;
        }
        let Some(nl) = found.filter(|_| !self.inline_nul) else {
            if buf.len() - self.pos > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInline);
            }
            self.inline_scan = buf.len();
            return Ok(false);
        };
        // As in Redis, a line is refused only while its newline is missing: one whose newline
        // is already buffered is run, however long.
        let end = scan_from + nl;
        let mut line_end = end;
        if line_end > self.pos && buf[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let start = self.pos;
        self.pos = end + 1;
        self.inline_scan = self.pos;
        split_inline(
            &buf[start..line_end],
            start,
            &mut self.args,
            &mut self.owned,
        )?;
        Ok(true)
    }
}

/// The arguments of the first complete multibulk frames in `buf`, each of at most `N`
/// arguments, handed to `each` until it returns false; for a look ahead at a pipeline's keys
/// before its commands run. Not a parse: it stops at the first frame it cannot read at a glance
/// (inline, partial, more than `N` arguments, a header other than plain digits), and what it
/// finds is only a hint; the parser still judges every byte.
pub fn peek_frames<'a, const N: usize>(buf: &'a [u8], mut each: impl FnMut(&[&'a [u8]]) -> bool) {
    let mut pos = 0;
    let mut args: [&[u8]; N] = [&[]; N];
    loop {
        let Some(count) = peek_header(buf, &mut pos, b'*').filter(|&n| n > 0 && n <= N) else {
            return;
        };
        for arg in &mut args[..count] {
            let Some(len) = peek_header(buf, &mut pos, b'$') else {
                return;
            };
            let Some(bytes) = buf.get(pos..pos + len) else {
                return;
            };
            *arg = bytes;
            pos += len + 2;
        }
        if pos > buf.len() || !each(&args[..count]) {
            return;
        }
    }
}

/// `<kind><digits>\r\n` at `*pos` (moved past it): the number, or None for anything else.
#[inline]
fn peek_header(buf: &[u8], pos: &mut usize, kind: u8) -> Option<usize> {
    let (&first, rest) = buf.get(*pos..)?.split_first()?;
    if first != kind {
        return None;
    }
    let mut number = 0usize;
    let mut digits = 0;
    loop {
        let byte = *rest.get(digits)?;
        if byte == b'\r' {
            break;
        }
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 || digits == 10 {
            return None;
        }
        number = number * 10 + digit as usize;
        digits += 1;
    }
    if digits == 0 || rest.get(digits + 1) != Some(&b'\n') {
        return None;
    }
    *pos += digits + 3;
    Some(number)
}

/// A line's words as Redis's `sdssplitargs` splits them (inline commands, AOF manifest lines,
/// script and library shebangs), or None for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (mut args, mut owned) = (Vec::new(), Vec::new());
    split_inline(line, 0, &mut args, &mut owned).ok()?;
    let word = |arg: &Arg| match arg {
        Arg::InBuffer(range) => line[range.clone()].to_vec(),
        Arg::Owned(range) => owned[range.clone()].to_vec(),
    };
    Some(args.iter().map(word).collect())
}

/// Splits an inline line into arguments with redis-cli's quoting rules: double quotes with
/// `\n \r \t \b \a \\ \" \xHH` escapes, single quotes with `\'`, and whitespace separators.
///
/// "Whitespace" differs by place, as in Redis's splitter: between arguments and after a
/// closing quote it is C's `isspace` (space, `\t \n \v \f \r`), but an unquoted word ends only
/// at a space, `\t`, `\n` or `\r`, so `SET a\x0cb c` sets the key `a\x0cb`.
fn split_inline(
    line: &[u8],
    base: usize,
    args: &mut Vec<Arg>,
    owned: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && is_c_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(());
        }
        let start = i;
        let mut quoted = false;
        let owned_start = owned.len();
        let mut word = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= line.len() {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex_digit(line[i + 2]), hex_digit(line[i + 3])) {
                        word.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < line.len() {
                    word.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    i = past_closing_quote(line, i)?;
                    break;
                } else {
                    word.push(c);
                    i += 1;
                }
            } else if in_single {
                if i >= line.len() {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < line.len() && line[i + 1] == b'\'' {
                    word.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    i = past_closing_quote(line, i)?;
                    break;
                } else {
                    word.push(c);
                    i += 1;
                }
            } else {
                if i >= line.len() || matches!(line[i], b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                match line[i] {
                    b'"' => {
                        quoted = true;
                        in_double = true;
                    }
                    b'\'' => {
                        quoted = true;
                        in_single = true;
                    }
                    c => word.push(c),
                }
                i += 1;
            }
        }
        if quoted {
            owned.extend_from_slice(&word);
            args.push(Arg::Owned(owned_start..owned.len()));
        } else {
            args.push(Arg::InBuffer(base + start..base + i));
        }
    }
}

/// C's `isspace` in the C locale: Rust's `is_ascii_whitespace` lacks the vertical tab.
/// Where the argument goes on after the closing quote at `i`. The quote must end the argument
/// (a space or the end of the line follows), or the line is refused, as redis-cli refuses
/// `"a"b`.
fn past_closing_quote(line: &[u8], i: usize) -> Result<usize, ProtocolError> {
    if i + 1 < line.len() && !is_c_space(line[i + 1]) {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    Ok(i + 1)
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `step` bytes and collects the commands and the error, if any.
    fn parse_chunked(input: &[u8], step: usize) -> (Vec<Vec<Vec<u8>>>, Option<ProtocolError>) {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in input.chunks(step.max(1)) {
            buf.extend_from_slice(chunk);
            loop {
                match parser.next(&buf) {
                    Ok(Some(cmd)) => out.push(cmd.iter().map(<[u8]>::to_vec).collect()),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
            let n = parser.consumed();
            buf.drain(..n);
            parser.discard(n);
        }
        (out, None)
    }

    fn words(cmd: &[&str]) -> Vec<Vec<u8>> {
        cmd.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// What [`peek_frames`] hands out for `buf` (frames of at most 3 arguments), stopping
    /// after `keep_going` frames.
    fn peeked(buf: &[u8], keep_going: usize) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        peek_frames::<3>(buf, |args| {
            out.push(args.iter().map(|a| a.to_vec()).collect());
            out.len() < keep_going
        });
        out
    }

    #[test]
    fn peek_frames_reads_whole_frames_and_stops_at_what_it_cannot_read_at_a_glance() {
        let two = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*3\r\n$3\r\nSET\r\n$2\r\nbb\r\n$0\r\n\r\n";
        let both = vec![words(&["GET", "a"]), words(&["SET", "bb", ""])];
        assert_eq!(peeked(two, usize::MAX), both);
        assert_eq!(peeked(two, 1), both[..1]);
        // Whatever follows the frames it read: a partial frame, at every cut...
        for cut in 0..two.len() {
            let whole = if cut < 20 { 0 } else { 1 };
            assert_eq!(
                peeked(&two[..cut], usize::MAX),
                both[..whole],
                "cut at {cut}"
            );
        }
        // ...an inline command, a frame of too many arguments, an empty one, a header that is
        // not plain digits, or one over ten digits.
        for tail in [
            &b"PING\r\n"[..],
            b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
            b"*0\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$+1\r\na\r\n",
            b"*1\r\n$1\n\na\r\n",
            b"*1\r\n$99999999999\r\n",
        ] {
            let buf = [&two[..20], tail, &two[20..]].concat();
            assert_eq!(
                peeked(&buf, usize::MAX),
                both[..1],
                "{:?}",
                String::from_utf8_lossy(tail)
            );
        }
    }

    #[test]
    fn big_arg_missing_counts_what_is_left_of_a_big_argument() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n".to_vec();
        assert!(parser.next(&buf).unwrap().is_none());
        // 100 bytes and the CRLF are missing; a 101-byte threshold does not count it as big.
        assert_eq!(parser.big_arg_missing(buf.len(), 100), Some(102));
        assert_eq!(parser.big_arg_missing(buf.len(), 101), None);
        buf.extend_from_slice(&[b'x'; 60]);
        assert!(parser.next(&buf).unwrap().is_none());
        assert_eq!(parser.big_arg_missing(buf.len(), 100), Some(42));
        buf.extend_from_slice(&[b'x'; 40]);
        buf.extend_from_slice(b"\r\n");
        assert!(parser.next(&buf).unwrap().is_some());
        assert_eq!(parser.big_arg_missing(buf.len(), 1), None);
    }

    #[test]
    fn partial_args_len_counts_the_parsed_arguments_of_an_unfinished_frame() {
        let mut parser = RequestParser::new(Limits::default());
        let mut buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nxx".to_vec();
        assert!(parser.next(&buf).unwrap().is_none());
        assert_eq!(
            parser.partial_args_len(),
            4,
            "SET and k, not the argument in progress"
        );
        buf.extend_from_slice(&[b'x'; 98]);
        buf.extend_from_slice(b"\r\n");
        assert!(parser.next(&buf).unwrap().is_some());
        assert!(parser.next(&buf).unwrap().is_none());
        assert_eq!(parser.partial_args_len(), 0, "between frames");
    }

    #[test]
    fn multibulk_resumes_at_every_split_point() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        for step in 1..input.len() {
            let (cmds, err) = parse_chunked(input, step);
            assert_eq!(err, None);
            assert_eq!(
                cmds,
                vec![words(&["SET", "k", "hello"]), words(&["PING"])],
                "step {step}"
            );
        }
    }

    #[test]
    fn inline_commands_with_quotes() {
        let (cmds, err) =
            parse_chunked(b"set k \"a b\\x41\\n\"\r\nget 'it\\'s'\n\r\n   \nPING\n", 3);
        assert_eq!(err, None);
        assert_eq!(
            cmds,
            vec![
                words(&["set", "k", "a bA\n"]),
                words(&["get", "it's"]),
                words(&["PING"])
            ]
        );
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        let (cmds, err) = parse_chunked(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 100);
        assert_eq!(err, None);
        assert_eq!(cmds, vec![words(&["PING"])]);
    }

    #[test]
    fn protocol_errors_have_redis_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*3000000000\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (b"*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"),
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$600000000\r\n",
                "Protocol error: invalid bulk length",
            ),
            (
                b"set k \"abc\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
            (
                b"set k \"abc\"x\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, text) in cases {
            let (_, err) = parse_chunked(input, input.len());
            assert_eq!(
                err.map(|e| e.to_string()).as_deref(),
                Some(*text),
                "{input:?}"
            );
        }
    }

    /// The one-pass path for whole bulks (`whole_bulk`) takes exactly what the general path
    /// takes: empty payloads, and leaves it the lengths it refuses.
    #[test]
    fn whole_bulks_parse_as_the_general_path_does() {
        let (commands, err) = parse_chunked(b"*2\r\n$0\r\n\r\n$3\r\nabc\r\n", 100);
        assert_eq!((commands, err), (vec![words(&["", "abc"])], None));
        for input in [
            &b"*1\r\n$01\r\na\r\n"[..],
            b"*1\r\n$00\r\n\r\n",
            b"*1\r\n$1234567890123456789\r\na\r\n",
            b"*1\r\n$536870913\r\na\r\n",
        ] {
            let (_, err) = parse_chunked(input, input.len());
            assert_eq!(err, Some(ProtocolError::InvalidBulkLength), "{input:?}");
        }
    }

    #[test]
    fn oversized_lines_are_refused_before_they_end() {
        let long = vec![b'a'; 70 * 1024];
        let (_, err) = parse_chunked(&long, 4096);
        assert_eq!(err, Some(ProtocolError::TooBigInline));
        let mut star = b"*".to_vec();
        star.extend(std::iter::repeat_n(b'1', 70 * 1024));
        assert_eq!(
            parse_chunked(&star, 4096).1,
            Some(ProtocolError::TooBigMultibulkCount)
        );
        let mut dollar = b"*1\r\n$".to_vec();
        dollar.extend(std::iter::repeat_n(b'1', 70 * 1024));
        assert_eq!(
            parse_chunked(&dollar, 4096).1,
            Some(ProtocolError::TooBigBulkCount)
        );
    }

    /// Parses `input` whole as an unauthenticated client.
    fn parse_unauthenticated(input: &[u8]) -> Result<usize, ProtocolError> {
        let mut parser = RequestParser::new(Limits::default());
        parser.authenticated = false;
        parser.next(input).map(|cmd| cmd.map_or(0, |c| c.len()))
    }

    /// Regression: the unauthenticated limits replied "invalid multibulk length" / "invalid
    /// bulk length", where Redis 7 says "unauthenticated multibulk length" / "unauthenticated
    /// bulk length".
    #[test]
    fn unauthenticated_limit_errors_use_redis_texts() {
        assert_eq!(parse_unauthenticated(b"*10\r\n"), Ok(0));
        let err = parse_unauthenticated(b"*11\r\n").unwrap_err();
        assert_eq!(err, ProtocolError::UnauthenticatedMultibulkLength);
        assert_eq!(
            err.to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(parse_unauthenticated(b"*1\r\n$16384\r\n"), Ok(0));
        let err = parse_unauthenticated(b"*1\r\n$16385\r\n").unwrap_err();
        assert_eq!(err, ProtocolError::UnauthenticatedBulkLength);
        assert_eq!(
            err.to_string(),
            "Protocol error: unauthenticated bulk length"
        );
        // Lengths that are invalid for anyone keep the general error, as in Redis.
        assert_eq!(
            parse_unauthenticated(b"*1\r\n$600000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_unauthenticated(b"*3000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
    }

    /// Regression: an inline line longer than 64 KiB was refused even when its newline had
    /// already arrived. Redis refuses only a buffered line without a newline, so
    /// `PING <65536 x>\r\n` sent at once gets its bulk reply from Redis.
    #[test]
    fn complete_inline_line_over_64k_is_run_not_refused() {
        let mut line = repeated_line(b"PING ", b'x', 64 * 1024);
        line.extend_from_slice(b"\r\n");
        let (cmds, err) = parse_chunked(&line, line.len());
        assert_eq!(err, None);
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0][1].len(), 64 * 1024);
        // Without its newline the same line is refused.
        let (_, err) = parse_chunked(&line[..line.len() - 2], line.len());
        assert_eq!(err, Some(ProtocolError::TooBigInline));
    }

    /// Regression: a bulk header not starting with '$' was refused at once; Redis waits for
    /// the whole line (up to its '\r' and one more byte) before checking, so `*2\r\n0` waits and
    /// a 64 KiB line without '\r' is "too big bulk count string".
    #[test]
    fn dollar_is_checked_only_once_the_bulk_header_line_is_complete() {
        for partial in [
            &b"*2\r\n0"[..],
            b"*1\r\nfoo",
            b"*1\r\nfoo\r",
            b"*2\r\n$3\r\nabc\r\n*",
        ] {
            assert_eq!(parse_chunked(partial, 1), (vec![], None), "{partial:?}");
        }
        assert_eq!(
            parse_chunked(b"*1\r\nfoo\r\n", 1).1,
            Some(ProtocolError::ExpectedDollar(b'f'))
        );
        // A header line that is only "\r\n" has no number to slice out.
        assert_eq!(
            parse_chunked(b"*2\r\n\r\n", 1).1,
            Some(ProtocolError::ExpectedDollar(b'\r'))
        );
        let long = repeated_line(b"*1\r\n", b'a', 64 * 1024 + 1);
        assert_eq!(
            parse_chunked(&long, 4096).1,
            Some(ProtocolError::TooBigBulkCount)
        );
    }

    fn repeated_line(prefix: &[u8], byte: u8, n: usize) -> Vec<u8> {
        let mut out = prefix.to_vec();
        out.resize(prefix.len() + n, byte);
        out
    }

    /// Regression: a complete `*`/`$` header line over 64 KiB got "too big mbulk/bulk count
    /// string"; Redis applies that limit only while the '\r' is missing, and a complete line
    /// is an invalid number.
    #[test]
    fn complete_overlong_header_line_is_an_invalid_length() {
        let mut star = repeated_line(b"*", b'1', 64 * 1024 + 1);
        star.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_chunked(&star, star.len()).1,
            Some(ProtocolError::InvalidMultibulkLength)
        );
        let mut dollar = repeated_line(b"*1\r\n$", b'1', 64 * 1024 + 1);
        dollar.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_chunked(&dollar, dollar.len()).1,
            Some(ProtocolError::InvalidBulkLength)
        );
    }

    /// Regression: an inline line with a NUL before its newline was run. Redis finds the
    /// newline with `strchr`, which stops at the NUL, so the line waits for more input until it
    /// outgrows the inline limit (checked against Redis 7.0.15 over a raw socket).
    #[test]
    fn nul_before_the_newline_keeps_the_line_waiting() {
        for input in [
            &b"SET a\x00b c\r\n"[..],
            b"SET a\x00b c\r\nPING\r\n",
            b"\x00\r\n",
            b"*1\x00\r\n$4\r\nPING\r\n",
            b"*1\r\n$4\x00\r\nPING\r\n",
        ] {
            for step in [1, input.len()] {
                assert_eq!(parse_chunked(input, step), (vec![], None), "{input:?}");
            }
        }
        // A NUL after the newline only holds back what follows it; in a bulk payload it is data.
        assert_eq!(
            parse_chunked(b"PING\r\n\x00PING\r\n", 3),
            (vec![words(&["PING"])], None)
        );
        assert_eq!(
            parse_chunked(b"*1\r\n$4\r\nPI\x00G\r\n", 1),
            (vec![vec![b"PI\x00G".to_vec()]], None)
        );
        let mut long = b"PING\x00".to_vec();
        long.resize(70_000, b'a');
        long.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_chunked(&long, 4096).1,
            Some(ProtocolError::TooBigInline)
        );
        let mut star = b"*1\x00".to_vec();
        star.resize(70_000, b'a');
        star.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_chunked(&star, 70_002).1,
            Some(ProtocolError::TooBigMultibulkCount)
        );
    }

    /// Regression: a form feed split inline arguments. Redis skips C `isspace` between
    /// arguments (and accepts it after a closing quote), but ends an unquoted word only at a
    /// space, tab, CR or LF.
    #[test]
    fn inline_whitespace_follows_redis_splitter() {
        let cases: &[(&[u8], &[&[u8]])] = &[
            (b"SET a\x0cb c\r\n", &[b"SET", b"a\x0cb", b"c"]),
            (b"ECHO a\x0cb\x0bc\r\n", &[b"ECHO", b"a\x0cb\x0bc"]),
            (b"\x0bPING\r\n", &[b"PING"]),
            (b"\x0cPING\x0c\r\n", &[b"PING\x0c"]),
            (b"ECHO 'a'\x0b\r\n", &[b"ECHO", b"a"]),
            (b"ECHO \"a\"\x0cb\r\n", &[b"ECHO", b"a", b"b"]),
            (b"ECHO \"a\x0cb\"\r\n", &[b"ECHO", b"a\x0cb"]),
        ];
        for (input, expected) in cases {
            let expected: Vec<Vec<u8>> = expected.iter().map(|a| a.to_vec()).collect();
            assert_eq!(
                parse_chunked(input, input.len()),
                (vec![expected], None),
                "{input:?}"
            );
        }
    }

    /// Regression: the byte in "expected '$', got 'X'" reached the client UTF-8 encoded
    /// (`\xc2\x9d` for `\x9d`); Redis sends the raw byte.
    #[test]
    fn expected_dollar_reply_carries_the_raw_byte() {
        let (_, err) = parse_chunked(b"*1\r\n\x9d\r\n", 8);
        let err = err.expect("a protocol error");
        assert_eq!(err, ProtocolError::ExpectedDollar(0x9d));
        assert_eq!(
            err.reply_text(),
            b"Protocol error: expected '$', got '\x9d'".to_vec()
        );
        assert_eq!(
            ProtocolError::InvalidBulkLength.reply_text(),
            b"Protocol error: invalid bulk length".to_vec()
        );
    }

    proptest::proptest! {
        #[test]
        fn any_split_of_valid_frames_parses_the_same(
            cmds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..20), 1..5),
                1..5),
            step in 1usize..40,
        ) {
            let mut wire = Vec::new();
            for cmd in &cmds {
                wire.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
                for arg in cmd {
                    wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
                    wire.extend_from_slice(arg);
                    wire.extend_from_slice(b"\r\n");
                }
            }
            let (parsed, err) = parse_chunked(&wire, step);
            proptest::prop_assert_eq!(err, None);
            proptest::prop_assert_eq!(parsed, cmds);
        }

        /// Inputs stitched from protocol fragments reach the corners random bytes rarely do.
        #[test]
        fn fragment_soup_never_panics(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                &b"*"[..], b"$", b"\r\n", b"\r", b"\n", b"1", b"2", b"-1", b"0", b"PING", b" ",
                b"\"", b"'", b"\\", b"x", b"*1\r\n$4\r\nPING\r\n", b"$3\r\n", b"\\x41", b"*1\r\n",
                b"*2\r\n",
            ]), 1..16),
            step in 1usize..8,
        ) {
            let _ = parse_chunked(&parts.concat(), step);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), step in 1usize..50) {
            let _ = parse_chunked(&bytes, step);
        }
    }
}
