//! Reply encoding. Handlers describe replies by type; the writer picks the wire form for the
//! client's protocol, so no command needs to know whether it speaks RESP2 or RESP3.

/// The protocol a client negotiated with HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Resp2,
    Resp3,
}

/// Appends encoded replies to an output buffer.
pub struct ReplyWriter<'a> {
    out: &'a mut Vec<u8>,
    pub protocol: Protocol,
}

impl<'a> ReplyWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, protocol: Protocol) -> Self {
        ReplyWriter { out, protocol }
    }

    pub fn is_resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    /// Bytes written so far, for callers that roll back a partial reply.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    pub fn truncate(&mut self, len: usize) {
        self.out.truncate(len);
    }

    /// The buffer itself, for code that appends whole replies of its own (EXEC's commands).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// `<tag><n>\r\n`, assembled on the stack and appended in one copy: replies of many small
    /// elements (XRANGE, HGETALL...) write one header per element.
    fn header(&mut self, tag: u8, n: i64) {
        let mut line = [0u8; 23];
        line[0] = tag;
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(n).as_bytes();
        let end = 1 + digits.len();
        line[1..end].copy_from_slice(digits);
        line[end..end + 2].copy_from_slice(b"\r\n");
        self.out.extend_from_slice(&line[..end + 2]);
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// `+text`. The text must not contain CR or LF.
    pub fn simple(&mut self, text: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// `-text`, where text starts with the error code (`ERR ...`, `WRONGTYPE ...`). Newlines are
    /// replaced by spaces so the frame stays valid, as Redis does.
    pub fn error(&mut self, text: &str) {
        self.error_bytes(text.as_bytes());
    }

    /// [`error`](Self::error) for texts that carry raw client bytes, which need not be UTF-8
    /// (see `ProtocolError::reply_text`).
    pub fn error_bytes(&mut self, text: &[u8]) {
        self.out.push(b'-');
        self.out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn integer(&mut self, n: i64) {
        self.header(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.out.reserve(data.len() + 25);
        // A length under 100, the usual element of a list, set or hash reply, makes a
        // fixed-size header: copied without formatting (LRANGE 100 of 16-byte elements spent a
        // fifth of its instructions in this function and `itoa`).
        match data.len() {
            len @ 0..=9 => self
                .out
                .extend_from_slice(&[b'$', b'0' + len as u8, b'\r', b'\n']),
            len @ 10..=99 => self.out.extend_from_slice(&[
                b'$',
                b'0' + (len / 10) as u8,
                b'0' + (len % 10) as u8,
                b'\r',
                b'\n',
            ]),
            len => self.header(b'$', len as i64),
        }
        self.out.extend_from_slice(data);
        self.out.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string, as GET does for values stored as integers.
    pub fn bulk_integer(&mut self, n: i64) {
        let mut buf = itoa::Buffer::new();
        self.bulk(buf.format(n).as_bytes());
    }

    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null array (`*-1` in RESP2, `_` in RESP3).
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs; a flat array of `2 * len` elements in RESP2.
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    /// A set; an array in RESP2.
    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    /// An out-of-band push message; an array in RESP2.
    pub fn push(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    /// A double; a bulk string in RESP2.
    pub fn double(&mut self, value: f64) {
        let mut text = Vec::with_capacity(24);
        crate::number::format_f64(value, &mut text);
        self.double_text(&text);
    }

    /// A double already formatted (in a form other than `%.17g`, as GEOPOS's coordinates); a
    /// bulk string in RESP2.
    pub fn double_text(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A boolean; the integer 1 or 0 in RESP2.
    pub fn boolean(&mut self, value: bool) {
        match self.protocol {
            Protocol::Resp2 => self.integer(value as i64),
            Protocol::Resp3 => {
                self.out
                    .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" })
            }
        }
    }

    /// A verbatim string with a three-letter format (`txt`); a bulk string in RESP2. The
    /// format is always three bytes, as Redis writes it from a C string: what comes before a
    /// NUL, cut to three and padded with spaces (a script may return any format).
    pub fn verbatim(&mut self, format: &[u8], text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', (text.len() + 4) as i64);
                let mut letters = format.iter().copied().take_while(|&b| b != 0);
                for _ in 0..3 {
                    self.out.push(letters.next().unwrap_or(b' '));
                }
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// A big number, given as its decimal text; a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => {
                self.out.push(b'(');
                self.out.extend_from_slice(digits);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// An attribute of `len` pairs, which `pairs` writes, describing the reply that follows it.
    /// RESP2 has no attributes: the pairs are written and then taken back, so a RESP2 client
    /// sees only the reply itself.
    pub fn attribute(&mut self, len: usize, pairs: impl FnOnce(&mut Self)) {
        let start = self.out.len();
        self.header(b'|', len as i64);
        pairs(self);
        if self.protocol == Protocol::Resp2 {
            self.out.truncate(start);
        }
    }

    /// Bytes that are already a complete encoded reply.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.out.extend_from_slice(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut ReplyWriter)) -> (String, String) {
        let run = |p| {
            let mut out = Vec::new();
            f(&mut ReplyWriter::new(&mut out, p));
            String::from_utf8(out).unwrap()
        };
        (run(Protocol::Resp2), run(Protocol::Resp3))
    }

    #[test]
    fn resp3_types_degrade_in_resp2() {
        assert_eq!(both(|w| w.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|w| w.set(3)), ("*3\r\n".into(), "~3\r\n".into()));
        assert_eq!(both(|w| w.push(3)), ("*3\r\n".into(), ">3\r\n".into()));
        assert_eq!(
            both(|w| w.double(1.5)),
            ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into())
        );
        assert_eq!(
            both(|w| w.boolean(true)),
            (":1\r\n".into(), "#t\r\n".into())
        );
        assert_eq!(
            both(|w| w.verbatim(b"txt", b"hi")),
            ("$2\r\nhi\r\n".into(), "=6\r\ntxt:hi\r\n".into())
        );
    }

    /// Found by the `lua_reply` fuzz target: a verbatim string whose format was not three
    /// UTF-8 letters (a script may return any) was written with a wrong length. Redis 7.0.15
    /// replies as below to `return {verbatim_string={format=..., string='xy'}}` in RESP3.
    #[test]
    fn fuzz_lua_reply_verbatim_format_is_three_bytes() {
        let resp3 = |format: &[u8]| {
            let mut out = Vec::new();
            ReplyWriter::new(&mut out, Protocol::Resp3).verbatim(format, b"xy");
            out
        };
        assert_eq!(resp3(b"abcdef"), b"=6\r\nabc:xy\r\n");
        assert_eq!(resp3(b"a"), b"=6\r\na  :xy\r\n");
        assert_eq!(resp3(b"a\0bc"), b"=6\r\na  :xy\r\n");
        assert_eq!(resp3(b"\xc8\xc9\xca\xcb"), b"=6\r\n\xc8\xc9\xca:xy\r\n");
        assert_eq!(resp3(b"\x01\xc8t"), b"=6\r\n\x01\xc8t:xy\r\n");
    }

    #[test]
    fn attributes_and_big_numbers_degrade_in_resp2() {
        let attributed = |w: &mut ReplyWriter| {
            w.attribute(1, |w| {
                w.bulk(b"k");
                w.integer(1);
            });
            w.bulk(b"reply");
        };
        assert_eq!(
            both(attributed),
            (
                "$5\r\nreply\r\n".into(),
                "|1\r\n$1\r\nk\r\n:1\r\n$5\r\nreply\r\n".into()
            )
        );
        assert_eq!(
            both(|w| w.big_number(b"12345678901234567890")),
            (
                "$20\r\n12345678901234567890\r\n".into(),
                "(12345678901234567890\r\n".into()
            )
        );
    }

    /// The fixed-size headers of short bulks, and the formatted one past them.
    #[test]
    fn bulk_headers_at_every_length_class() {
        for len in [0, 9, 10, 99, 100, 12345] {
            let mut out = Vec::new();
            ReplyWriter::new(&mut out, Protocol::Resp2).bulk(&vec![b'x'; len]);
            let expected = [
                format!("${len}\r\n").into_bytes(),
                vec![b'x'; len],
                b"\r\n".to_vec(),
            ]
            .concat();
            assert_eq!(out, expected, "{len}");
        }
    }

    #[test]
    fn errors_never_break_the_frame() {
        assert_eq!(both(|w| w.error("ERR a\r\nb")).0, "-ERR a  b\r\n");
    }
}
