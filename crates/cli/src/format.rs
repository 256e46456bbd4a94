//! Reply formatting, byte for byte as redis-cli prints it: the "standard" (tty) form with
//! `(integer)`, numbered and indented aggregates and quoted strings, and the `--raw` form.

pub use redis_lite_protocol::repr;
use redis_lite_protocol::Response;

use crate::args::Output;

/// The reply as printed to a terminal; always ends with a newline.
pub fn standard(r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    standard_into(&mut out, r, "");
    out
}

fn standard_into(out: &mut Vec<u8>, r: &Response, prefix: &str) {
    match r {
        Response::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
        }
        Response::Status(s) => out.extend_from_slice(s),
        Response::Integer(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Response::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(d);
        }
        // redis-cli 7.0 cannot print a big number at all ("Unknown reply type: 13"); this is
        // the form later redis-cli versions use.
        Response::BigNumber(d) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(d);
        }
        Response::Bulk(s) => repr(out, s),
        Response::Verbatim { text, .. } => out.extend_from_slice(text),
        Response::Nil => out.extend_from_slice(b"(nil)"),
        Response::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Response::Array(items) | Response::Set(items) | Response::Push(items) => {
            let (empty, sep) = match r {
                Response::Array(_) => ("(empty array)", ')'),
                Response::Set(_) => ("(empty set)", '~'),
                _ => ("(empty push)", ')'),
            };
            if items.is_empty() {
                out.extend_from_slice(empty.as_bytes());
            } else {
                let (width, inner) = aggregate_layout(items.len(), prefix);
                for (i, item) in items.iter().enumerate() {
                    number_item(out, i, width, sep, prefix);
                    standard_into(out, item, &inner);
                }
                // Each item already ended its line.
                return;
            }
        }
        Response::Map(pairs) => {
            if pairs.is_empty() {
                out.extend_from_slice(b"(empty hash)");
            } else {
                let (width, inner) = aggregate_layout(pairs.len(), prefix);
                for (i, (k, v)) in pairs.iter().enumerate() {
                    number_item(out, i, width, '#', prefix);
                    standard_into(out, k, &inner);
                    out.pop();
                    out.extend_from_slice(b" => ");
                    // A value that takes several lines starts on its own line, indented
                    // like the rest of its items.
                    let mut value = Vec::new();
                    standard_into(&mut value, v, &inner);
                    if value[..value.len() - 1].contains(&b'\n') {
                        out.push(b'\n');
                        out.extend_from_slice(inner.as_bytes());
                    }
                    out.extend_from_slice(&value);
                }
                return;
            }
        }
    }
    out.push(b'\n');
}

/// Index width for `n` items, and the prefix nested aggregates indent by (width + 2 spaces).
fn aggregate_layout(n: usize, prefix: &str) -> (usize, String) {
    let width = n.to_string().len();
    (width, format!("{prefix}{}", " ".repeat(width + 2)))
}

/// `N) ` right-aligned to `width`; the first item follows its parent's number on the same line.
fn number_item(out: &mut Vec<u8>, i: usize, width: usize, sep: char, prefix: &str) {
    let lead = if i == 0 { "" } else { prefix };
    out.extend_from_slice(format!("{lead}{:>width$}{sep} ", i + 1).as_bytes());
}

/// The reply in `--raw` form, without the final newline (callers add redis-cli's delimiter).
pub fn raw(r: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    raw_into(&mut out, r);
    out
}

fn raw_into(out: &mut Vec<u8>, r: &Response) {
    match r {
        Response::Nil => {}
        Response::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Response::Status(s) | Response::Bulk(s) | Response::Double(s) => out.extend_from_slice(s),
        Response::BigNumber(s) | Response::Verbatim { text: s, .. } => out.extend_from_slice(s),
        Response::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Response::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Response::Array(items) | Response::Set(items) | Response::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw_into(out, item);
            }
        }
        Response::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw_into(out, k);
                out.push(b' ');
                raw_into(out, v);
            }
        }
    }
}

/// Commands whose reply redis-cli always prints raw, because it is a text report (INFO,
/// CLIENT LIST...). `args` is the whole command.
pub fn is_text_report(args: &[Vec<u8>]) -> bool {
    let word = |i: usize| {
        args.get(i)
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
            .unwrap_or_default()
    };
    let (cmd, sub, n) = (word(0), word(1), args.len());
    match cmd.as_str() {
        "info" | "lolwut" => true,
        "debug" => n >= 2 && (sub == "htstats" || sub == "htstats-key"),
        "memory" => n >= 2 && (sub == "malloc-stats" || sub == "doctor"),
        "cluster" => n == 2 && (sub == "nodes" || sub == "info"),
        "client" => n >= 2 && (sub == "list" || sub == "info"),
        "latency" => (n == 3 && sub == "graph") || (n == 2 && sub == "doctor"),
        "proxy" => n >= 2 && sub == "info",
        _ => false,
    }
}

/// What redis-cli writes for one reply of a command: text reports raw and as is, otherwise
/// the chosen output form (raw followed by a newline).
pub fn reply(r: &Response, output: Output, text_report: bool) -> Vec<u8> {
    if text_report {
        return raw(r);
    }
    match output {
        Output::Standard => standard(r),
        Output::Raw => {
            let mut out = raw(r);
            out.push(b'\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Response::*;

    fn b(s: &str) -> Response {
        Bulk(s.as_bytes().to_vec())
    }

    fn tty(r: &Response) -> String {
        String::from_utf8(standard(r)).unwrap()
    }

    fn rawn(r: &Response) -> String {
        String::from_utf8(reply(r, Output::Raw, false)).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(tty(&Status(b"OK".to_vec())), "OK\n");
        assert_eq!(tty(&Error(b"ERR bad".to_vec())), "(error) ERR bad\n");
        assert_eq!(tty(&Integer(-7)), "(integer) -7\n");
        assert_eq!(tty(&Nil), "(nil)\n");
        assert_eq!(tty(&Double(b"3.141".to_vec())), "(double) 3.141\n");
        assert_eq!(tty(&Bool(true)), "(true)\n");
        assert_eq!(tty(&Bool(false)), "(false)\n");
        assert_eq!(
            tty(&BigNumber(b"12345678901234567890".to_vec())),
            "(big number) 12345678901234567890\n"
        );
        let verbatim = Verbatim {
            format: b"txt".to_vec(),
            text: b"a\nb".to_vec(),
        };
        assert_eq!(tty(&verbatim), "a\nb\n");
        assert_eq!(rawn(&verbatim), "a\nb\n");
    }

    #[test]
    fn strings_are_quoted_and_escaped_like_sdscatrepr() {
        let s = Bulk(b"a\x01b\xffc\"d\\e\n\t\r\x07\x08 ~\x7f".to_vec());
        assert_eq!(
            tty(&s),
            "\"a\\x01b\\xffc\\\"d\\\\e\\n\\t\\r\\a\\b ~\\x7f\"\n"
        );
        assert_eq!(tty(&b("héllo")), "\"h\\xc3\\xa9llo\"\n");
        assert_eq!(tty(&b("")), "\"\"\n");
    }

    #[test]
    fn nested_arrays_are_numbered_and_indented() {
        let r = Array(vec![
            Integer(1),
            Array(vec![Integer(2), Array(vec![b("a"), b("b")]), Array(vec![])]),
            b("x"),
            Error(b"boom".to_vec()),
            Nil,
        ]);
        assert_eq!(
            tty(&r),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) \"a\"\n      2) \"b\"\n   3) (empty array)\n3) \"x\"\n4) (error) boom\n5) (nil)\n"
        );
        assert_eq!(rawn(&r), "1\n2\na\nb\n\nx\nboom\n\n\n");
    }

    #[test]
    fn ten_or_more_items_right_align_their_numbers() {
        let mut items: Vec<Response> = (1..=10).map(Integer).collect();
        items.push(Array((1..=2).map(Integer).collect()));
        let text = tty(&Array(items));
        assert!(text.starts_with(" 1) (integer) 1\n"));
        assert!(text.contains("\n10) (integer) 10\n11) 1) (integer) 1\n    2) (integer) 2\n"));
    }

    #[test]
    fn resp3_aggregates() {
        let set = Set(vec![Integer(0), Integer(1)]);
        assert_eq!(tty(&set), "1~ (integer) 0\n2~ (integer) 1\n");
        assert_eq!(rawn(&set), "0\n1\n");
        let map = Map(vec![
            (Integer(0), Bool(false)),
            (b("k"), Map(vec![(b("a"), b("b")), (b("c"), Set(vec![]))])),
        ]);
        assert_eq!(
            tty(&map),
            "1# (integer) 0 => (false)\n2# \"k\" => \n   1# \"a\" => \"b\"\n   2# \"c\" => (empty set)\n"
        );
        assert_eq!(rawn(&map), "0 (false)\nk a b\nc \n");
        assert_eq!(tty(&Map(vec![])), "(empty hash)\n");
        let one_line = Map(vec![(b("k"), Array(vec![Array(vec![b("x")])]))]);
        assert_eq!(tty(&one_line), "1# \"k\" => 1) 1) \"x\"\n");
        assert_eq!(tty(&Set(vec![])), "(empty set)\n");
        let push = Push(vec![b("message"), b("ch"), b("hi")]);
        assert_eq!(tty(&push), "1) \"message\"\n2) \"ch\"\n3) \"hi\"\n");
        assert_eq!(tty(&Push(vec![])), "(empty push)\n");
    }

    #[test]
    fn raw_scalars() {
        assert_eq!(rawn(&Nil), "\n");
        assert_eq!(rawn(&Error(b"ERR x".to_vec())), "ERR x\n\n");
        assert_eq!(rawn(&Integer(5)), "5\n");
        assert_eq!(rawn(&Double(b"1.5".to_vec())), "1.5\n");
        assert_eq!(rawn(&Bool(true)), "(true)\n");
        assert_eq!(rawn(&b("a\x00b")), "a\x00b\n");
    }

    #[test]
    fn text_reports_print_raw_without_a_delimiter() {
        let args = |s: &str| {
            s.split(' ')
                .map(|w| w.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        assert!(is_text_report(&args("INFO server")));
        assert!(is_text_report(&args("client list")));
        assert!(!is_text_report(&args("client id")));
        assert!(!is_text_report(&args("get info")));
        let r = b("# Server\r\nx:1\r\n");
        assert_eq!(reply(&r, Output::Standard, true), b"# Server\r\nx:1\r\n");
    }
}
