//! Client-side reply parsing: turns a server's RESP2/RESP3 byte stream into [`Response`] values.
//! It is the mirror of [`crate::reply`], for clients such as redis-lite-cli.

/// One reply as a client sees it. Text-like payloads stay bytes: Redis strings are binary.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// `+text`
    Status(Vec<u8>),
    /// `-text` or RESP3 `!len` blob error.
    Error(Vec<u8>),
    /// `:n`
    Integer(i64),
    /// `$len` bulk string.
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or RESP3 `_`.
    Nil,
    /// `,text`, kept as the server wrote it (clients print it unchanged).
    Double(Vec<u8>),
    /// `#t` / `#f`
    Bool(bool),
    /// `(digits`
    BigNumber(Vec<u8>),
    /// `=len` with its three-letter format (`txt`, `mkd`) split off.
    Verbatim {
        format: Vec<u8>,
        text: Vec<u8>,
    },
    Array(Vec<Response>),
    Set(Vec<Response>),
    Map(Vec<(Response, Response)>),
    /// `>n`: out-of-band data (pub/sub messages, invalidations).
    Push(Vec<Response>),
}

/// The stream is not valid RESP; the connection cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError(pub String);

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ResponseError {}

/// Deeper nesting than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 512;
/// Element counts come from the peer: preallocate at most this many.
const MAX_PREALLOC: usize = 1024;

/// Parses one complete reply from the front of `buf`. Returns the reply and the bytes it used,
/// or `None` when `buf` holds only part of it. RESP3 attributes (`|`) are read and dropped, so
/// the caller gets the reply they annotate.
pub fn parse(buf: &[u8]) -> Result<Option<(Response, usize)>, ResponseError> {
    let mut pos = 0;
    match parse_at(buf, &mut pos, 0)? {
        Some(r) => Ok(Some((r, pos))),
        None => Ok(None),
    }
}

/// The line starting at `*pos` (without CRLF), advancing past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*pos..];
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn number(text: &[u8]) -> Result<i64, ResponseError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ResponseError(format!(
                "Protocol error, bad number '{}'",
                String::from_utf8_lossy(text)
            ))
        })
}

/// A length-prefixed payload of `len` bytes plus CRLF.
fn payload(buf: &[u8], pos: &mut usize, len: i64) -> Result<Option<Vec<u8>>, ResponseError> {
    let len = usize::try_from(len)
        .map_err(|_| ResponseError(format!("Protocol error, bad bulk length {len}")))?;
    let end = pos.saturating_add(len);
    if buf.len() < end.saturating_add(2) {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(ResponseError(
            "Protocol error, bulk not ended by CRLF".into(),
        ));
    }
    let data = buf[*pos..end].to_vec();
    *pos = end + 2;
    Ok(Some(data))
}

/// `n` elements, each parsed at `depth + 1`.
fn elements(
    buf: &[u8],
    pos: &mut usize,
    n: usize,
    depth: usize,
) -> Result<Option<Vec<Response>>, ResponseError> {
    let mut out = Vec::with_capacity(n.min(MAX_PREALLOC));
    for _ in 0..n {
        match parse_at(buf, pos, depth + 1)? {
            Some(r) => out.push(r),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

fn parse_at(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Response>, ResponseError> {
    if depth > MAX_DEPTH {
        return Err(ResponseError("Protocol error, nesting too deep".into()));
    }
    let Some(&tag) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(head) = line(buf, pos) else {
        return Ok(None);
    };
    let count = |head: &[u8]| -> Result<Option<usize>, ResponseError> {
        let n = number(head)?;
        Ok(usize::try_from(n).ok())
    };
    let reply = match tag {
        b'+' => Response::Status(head.to_vec()),
        b'-' => Response::Error(head.to_vec()),
        b':' => Response::Integer(number(head)?),
        b',' => Response::Double(head.to_vec()),
        b'(' => Response::BigNumber(head.to_vec()),
        b'_' => Response::Nil,
        b'#' => match head {
            b"t" => Response::Bool(true),
            b"f" => Response::Bool(false),
            _ => return Err(ResponseError("Protocol error, bad boolean".into())),
        },
        b'$' | b'!' | b'=' => {
            let len = number(head)?;
            if len < 0 && tag == b'$' {
                return Ok(Some(Response::Nil));
            }
            let Some(data) = payload(buf, pos, len)? else {
                return Ok(None);
            };
            match tag {
                b'$' => Response::Bulk(data),
                b'!' => Response::Error(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err(ResponseError("Protocol error, bad verbatim string".into()));
                    }
                    Response::Verbatim {
                        format: data[..3].to_vec(),
                        text: data[4..].to_vec(),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let Some(n) = count(head)? else {
                return Ok(Some(Response::Nil));
            };
            let Some(items) = elements(buf, pos, n, depth)? else {
                return Ok(None);
            };
            match tag {
                b'*' => Response::Array(items),
                b'~' => Response::Set(items),
                _ => Response::Push(items),
            }
        }
        b'%' | b'|' => {
            let n = count(head)?.unwrap_or(0);
            let Some(flat) = elements(buf, pos, n.saturating_mul(2), depth)? else {
                return Ok(None);
            };
            if tag == b'|' {
                return parse_at(buf, pos, depth);
            }
            let mut pairs = Vec::with_capacity(n.min(MAX_PREALLOC));
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Response::Map(pairs)
        }
        other => {
            return Err(ResponseError(format!(
                "Protocol error, got \"{}\" as reply type byte",
                (other as char).escape_default()
            )))
        }
    };
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Response::*;

    fn one(wire: &[u8]) -> Response {
        let (r, used) = parse(wire).unwrap().unwrap();
        assert_eq!(used, wire.len(), "consumed all of {wire:?}");
        r
    }

    #[test]
    fn resp2_types() {
        assert_eq!(one(b"+OK\r\n"), Status(b"OK".to_vec()));
        assert_eq!(one(b"-ERR no\r\n"), Error(b"ERR no".to_vec()));
        assert_eq!(one(b":-42\r\n"), Integer(-42));
        assert_eq!(one(b"$3\r\na\r\n\r\n"), Bulk(b"a\r\n".to_vec()));
        assert_eq!(one(b"$0\r\n\r\n"), Bulk(vec![]));
        assert_eq!(one(b"$-1\r\n"), Nil);
        assert_eq!(one(b"*-1\r\n"), Nil);
        assert_eq!(one(b"*0\r\n"), Array(vec![]));
        assert_eq!(
            one(b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n"),
            Array(vec![Integer(1), Array(vec![Bulk(b"x".to_vec())])])
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(one(b"_\r\n"), Nil);
        assert_eq!(one(b",3.14\r\n"), Double(b"3.14".to_vec()));
        assert_eq!(one(b",inf\r\n"), Double(b"inf".to_vec()));
        assert_eq!(one(b"#t\r\n"), Bool(true));
        assert_eq!(one(b"#f\r\n"), Bool(false));
        assert_eq!(
            one(b"(123456789012345678901234567890\r\n"),
            BigNumber(b"123456789012345678901234567890".to_vec())
        );
        assert_eq!(one(b"!5\r\nERR x\r\n"), Error(b"ERR x".to_vec()));
        assert_eq!(
            one(b"=7\r\ntxt:a\nb\r\n"),
            Verbatim {
                format: b"txt".to_vec(),
                text: b"a\nb".to_vec()
            }
        );
        assert_eq!(one(b"~1\r\n:1\r\n"), Set(vec![Integer(1)]));
        assert_eq!(
            one(b"%1\r\n+k\r\n#t\r\n"),
            Map(vec![(Status(b"k".to_vec()), Bool(true))])
        );
        assert_eq!(
            one(b">2\r\n+a\r\n:1\r\n"),
            Push(vec![Status(b"a".to_vec()), Integer(1)])
        );
        // An attribute is dropped; the reply it annotates is what the caller gets.
        assert_eq!(
            one(b"|1\r\n+ttl\r\n:3\r\n+real\r\n"),
            Status(b"real".to_vec())
        );
    }

    #[test]
    fn partial_input_asks_for_more() {
        let full = b"*2\r\n$5\r\nhello\r\n%1\r\n:1\r\n,2.5\r\n";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse(full).unwrap().is_some());
    }

    #[test]
    fn trailing_bytes_are_left_for_the_next_reply() {
        let (r, used) = parse(b"+A\r\n+B\r\n").unwrap().unwrap();
        assert_eq!((r, used), (Status(b"A".to_vec()), 4));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b"?x\r\n"[..],
            b":12a\r\n",
            b"$3\r\nabcXY",
            b"$-5x\r\n",
            b"#x\r\n",
            b"=2\r\nab\r\n",
            b"!-3\r\n",
            b"*99999999999999999999\r\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = b"*1\r\n".repeat(MAX_DEPTH + 2);
        assert!(parse(&deep).is_err());
        // A huge announced count does not allocate up front.
        assert_eq!(parse(b"*2147483647\r\n:1\r\n").unwrap(), None);
    }
}
