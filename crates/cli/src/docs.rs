//! Command documentation fetched from the server's COMMAND DOCS: the source of interactive
//! hints, tab completion and `HELP`, so they describe the server actually connected to.

use redis_lite_protocol::Response;

use crate::conn::{args, Connection};

#[derive(Clone, Debug, PartialEq)]
pub struct CommandDoc {
    /// Upper case, with a space before a subcommand: `GET`, `CONFIG GET`.
    pub name: String,
    /// The argument synopsis, as redis-cli shows it: `key value [NX|XX] ...`.
    pub params: String,
    /// One synopsis per top-level argument, for hints that shrink as arguments are typed.
    pub arg_hints: Vec<String>,
    pub summary: String,
    pub since: String,
    pub group: String,
}

fn text(r: &Response) -> Option<String> {
    match r {
        Response::Bulk(s) | Response::Status(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

/// Key/value pairs of a map, in either protocol (RESP2 sends maps as flat arrays).
fn pairs(r: &Response) -> Vec<(&Response, &Response)> {
    match r {
        Response::Map(p) => p.iter().map(|(k, v)| (k, v)).collect(),
        Response::Array(items) => items.chunks_exact(2).map(|kv| (&kv[0], &kv[1])).collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(r: &'a Response, name: &str) -> Option<&'a Response> {
    pairs(r)
        .into_iter()
        .find(|(k, _)| text(k).as_deref() == Some(name))
        .map(|(_, v)| v)
}

fn list(r: Option<&Response>) -> &[Response] {
    match r {
        Some(Response::Array(items) | Response::Set(items)) => items,
        _ => &[],
    }
}

/// The synopsis of one argument, following redis-cli's rules for each argument type.
fn argument(arg: &Response) -> String {
    let get = |n| field(arg, n).and_then(text).unwrap_or_default();
    let flags: Vec<String> = list(field(arg, "flags")).iter().filter_map(text).collect();
    let has = |f: &str| flags.iter().any(|x| x == f);
    let token = get("token");
    let subs = list(field(arg, "arguments"));
    let body = match get("type").as_str() {
        "pure-token" => token.clone(),
        kind => {
            let value = match kind {
                "oneof" => subs.iter().map(argument).collect::<Vec<_>>().join("|"),
                "block" => subs.iter().map(argument).collect::<Vec<_>>().join(" "),
                _ => get("name"),
            };
            if token.is_empty() {
                value
            } else {
                format!("{token} {value}")
            }
        }
    };
    let mut s = body.clone();
    if has("multiple") {
        let again = if has("multiple_token") || token.is_empty() {
            body
        } else {
            body.strip_prefix(&format!("{token} "))
                .unwrap_or(&body)
                .to_string()
        };
        s = format!("{s} [{again} ...]");
    }
    if has("optional") {
        s = format!("[{s}]");
    }
    s
}

fn add(out: &mut Vec<CommandDoc>, name: &str, doc: &Response) {
    let get = |n| field(doc, n).and_then(text).unwrap_or_default();
    let arg_hints: Vec<String> = list(field(doc, "arguments")).iter().map(argument).collect();
    out.push(CommandDoc {
        name: name.replace('|', " ").to_ascii_uppercase(),
        params: arg_hints.join(" "),
        arg_hints,
        summary: get("summary"),
        since: get("since"),
        group: get("group"),
    });
    if let Some(subs) = field(doc, "subcommands") {
        for (k, v) in pairs(subs) {
            if let Some(sub) = text(k) {
                add(out, &sub, v);
            }
        }
    }
}

/// Parses a COMMAND DOCS reply, sorted by name.
pub fn from_reply(reply: &Response) -> Vec<CommandDoc> {
    let mut out = Vec::new();
    for (k, v) in pairs(reply) {
        if let Some(name) = text(k) {
            add(&mut out, &name, v);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The server's docs; an older server without COMMAND DOCS still gives names from COMMAND.
pub fn load(conn: &mut Connection) -> Vec<CommandDoc> {
    match conn.command(&args(&["COMMAND", "DOCS"])) {
        Ok(reply @ (Response::Map(_) | Response::Array(_))) => from_reply(&reply),
        _ => match conn.command(&args(&["COMMAND"])) {
            Ok(Response::Array(cmds)) => {
                let mut out: Vec<CommandDoc> = cmds
                    .iter()
                    .filter_map(|c| match c {
                        Response::Array(info) => info.first().and_then(text),
                        _ => None,
                    })
                    .map(|name| CommandDoc {
                        name: name.to_ascii_uppercase(),
                        params: String::new(),
                        arg_hints: Vec::new(),
                        summary: String::new(),
                        since: String::new(),
                        group: String::new(),
                    })
                    .collect();
                out.sort_by(|a, b| a.name.cmp(&b.name));
                out
            }
            _ => Vec::new(),
        },
    }
}

/// The hint shown after what was typed: the arguments not yet given. `None` when the line does
/// not start with a known command.
pub fn hint(docs: &[CommandDoc], line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    // The longest documented name the line starts with (a subcommand beats its container).
    let doc = docs
        .iter()
        .filter(|d| {
            let name: Vec<&str> = d.name.split(' ').collect();
            name.len() <= words.len()
                && name
                    .iter()
                    .zip(&words)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
                && (name.len() < words.len() || line.ends_with(' ') || name.len() == 1)
        })
        .max_by_key(|d| d.name.len())?;
    let typed = words.len() - doc.name.split(' ').count();
    let rest: Vec<&str> = doc
        .arg_hints
        .iter()
        .skip(typed)
        .map(String::as_str)
        .collect();
    if rest.is_empty() {
        return None;
    }
    let lead = if line.ends_with(' ') { "" } else { " " };
    Some(format!("{lead}{}", rest.join(" ")))
}

/// `HELP` output in redis-cli's layout: for `@group`, every command in the group; otherwise
/// the commands whose name starts with the given words.
pub fn help(docs: &[CommandDoc], topic: &[String]) -> String {
    let mut out = String::new();
    let one = |out: &mut String, d: &CommandDoc, with_group: bool| {
        out.push_str(&format!(
            "\r\n  \x1b[1m{}\x1b[0m \x1b[90m{}\x1b[0m\r\n",
            d.name, d.params
        ));
        out.push_str(&format!("  \x1b[33msummary:\x1b[0m {}\r\n", d.summary));
        out.push_str(&format!("  \x1b[33msince:\x1b[0m {}\r\n", d.since));
        if with_group {
            out.push_str(&format!("  \x1b[33mgroup:\x1b[0m {}\r\n", d.group));
        }
    };
    if let Some(group) = topic.first().and_then(|t| t.strip_prefix('@')) {
        for d in docs.iter().filter(|d| d.group.eq_ignore_ascii_case(group)) {
            one(&mut out, d, false);
        }
    } else {
        let want: Vec<String> = topic.iter().map(|t| t.to_ascii_uppercase()).collect();
        for d in docs {
            let name: Vec<&str> = d.name.split(' ').collect();
            if name.len() >= want.len() && name.iter().zip(&want).all(|(a, b)| a == b) {
                one(&mut out, d, true);
            }
        }
    }
    out.push_str("\r\n");
    out
}

pub fn banner() -> String {
    format!(
        "{}\n\
To get help about Redis commands type:\n      \
\"help @<group>\" to get a list of commands in <group>\n      \
\"help <command>\" for help on <command>\n      \
\"help <tab>\" to get a list of possible help topics\n      \
\"quit\" to exit\n",
        crate::args::version()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis_lite_protocol::parse_response;

    /// COMMAND DOCS SET CONFIG as Redis 7.0 sends it (RESP3), trimmed.
    fn sample() -> Vec<CommandDoc> {
        let wire = b"%2\r\n$3\r\nset\r\n%4\r\n$7\r\nsummary\r\n$3\r\nSet\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$9\r\narguments\r\n*4\r\n%2\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\nstring\r\n%4\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%4\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nEX\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$6\r\nconfig\r\n%3\r\n$7\r\nsummary\r\n$9\r\nContainer\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$11\r\nsubcommands\r\n%1\r\n$10\r\nconfig|get\r\n%3\r\n$7\r\nsummary\r\n$3\r\nGet\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$9\r\narguments\r\n*1\r\n%3\r\n$4\r\nname\r\n$9\r\nparameter\r\n$4\r\ntype\r\n$6\r\nstring\r\n$5\r\nflags\r\n~1\r\n+multiple\r\n";
        let (reply, _) = parse_response(wire).unwrap().unwrap();
        from_reply(&reply)
    }

    #[test]
    fn synopses_follow_argument_types_and_flags() {
        let docs = sample();
        let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["CONFIG", "CONFIG GET", "SET"]);
        assert_eq!(docs[2].params, "key value [NX|XX] [EX seconds]");
        assert_eq!(docs[1].params, "parameter [parameter ...]");
    }

    #[test]
    fn hints_drop_the_arguments_already_typed() {
        let docs = sample();
        assert_eq!(
            hint(&docs, "set").as_deref(),
            Some(" key value [NX|XX] [EX seconds]")
        );
        assert_eq!(
            hint(&docs, "SET ").as_deref(),
            Some("key value [NX|XX] [EX seconds]")
        );
        assert_eq!(
            hint(&docs, "set k ").as_deref(),
            Some("value [NX|XX] [EX seconds]")
        );
        assert_eq!(
            hint(&docs, "config get ").as_deref(),
            Some("parameter [parameter ...]")
        );
        assert_eq!(hint(&docs, "nosuch "), None);
    }

    #[test]
    fn help_by_name_and_group() {
        let docs = sample();
        let h = help(&docs, &["set".into()]);
        assert!(h.contains("SET\x1b[0m \x1b[90mkey value"), "{h:?}");
        assert!(h.contains("group:\x1b[0m string"));
        let g = help(&docs, &["@server".into()]);
        assert!(g.contains("CONFIG GET") && !g.contains("SET\x1b") && !g.contains("group:"));
    }
}
