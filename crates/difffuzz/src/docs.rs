//! What the fuzzer knows about each command, read from real Redis at start-up: `COMMAND DOCS`
//! gives the argument tree (types, tokens, optional/multiple flags, one-of choices, blocks) and
//! the group; `COMMAND INFO` gives the arity, the flags and the tips
//! (`nondeterministic_output`, `nondeterministic_output_order`). Subcommands of a container
//! (`OBJECT ENCODING`, `XGROUP CREATE`) are commands of their own here.

use std::collections::HashMap;

use redis_lite_testkit::{Raw, Reply};

/// One argument of a command's documented syntax.
#[derive(Clone, Debug)]
pub struct Arg {
    pub name: String,
    pub kind: ArgKind,
    /// The word written before the value (`EX` in `EX seconds`), or the whole argument for a
    /// pure token.
    pub token: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    /// With `multiple`: the token is repeated before each value (`GET pattern GET pattern`).
    pub multiple_token: bool,
}

/// An argument's documented type.
#[derive(Clone, Debug)]
pub enum ArgKind {
    Key,
    String,
    Integer,
    Double,
    UnixTime,
    Pattern,
    PureToken,
    /// Exactly one of these.
    OneOf(Vec<Arg>),
    /// All of these, in order.
    Block(Vec<Arg>),
}

/// A command (or a container's subcommand) as the fuzzer generates it.
#[derive(Clone, Debug)]
pub struct CommandModel {
    /// The words that name it: `["SET"]`, `["XGROUP", "CREATE"]`.
    pub words: Vec<String>,
    /// COMMAND DOCS's group: `string`, `sorted-set`, `generic`...
    pub group: String,
    pub args: Vec<Arg>,
    pub flags: Vec<String>,
    pub tips: Vec<String>,
}

impl CommandModel {
    /// The name as COMMAND writes it: `set`, `xgroup|create`.
    pub fn full_name(&self) -> String {
        self.words.join("|").to_ascii_lowercase()
    }
}

/// Every command and subcommand the server documents, in name order.
pub fn read_models(raw: &mut Raw) -> Vec<CommandModel> {
    let docs = pairs(raw.ok(&[b"COMMAND", b"DOCS"]));
    let info = command_info(raw.ok(&[b"COMMAND", b"INFO"]));
    let mut models = Vec::new();
    for (name, doc) in docs {
        collect(&name, &doc, &info, &mut models);
    }
    models.sort_by(|a, b| a.words.cmp(&b.words));
    models
}

/// Adds the command `name` (`xgroup|create`) documented by `doc`, or its subcommands when it
/// is a container.
fn collect(
    name: &str,
    doc: &Reply,
    info: &HashMap<String, (Vec<String>, Vec<String>)>,
    models: &mut Vec<CommandModel>,
) {
    let fields: HashMap<String, Reply> = pairs(doc.clone()).into_iter().collect();
    if let Some(subcommands) = fields.get("subcommands") {
        for (sub, sub_doc) in pairs(subcommands.clone()) {
            collect(&sub, &sub_doc, info, models);
        }
        return;
    }
    let (flags, tips) = info.get(name).cloned().unwrap_or_default();
    models.push(CommandModel {
        words: name.split('|').map(str::to_ascii_uppercase).collect(),
        group: fields.get("group").map(text).unwrap_or_default(),
        args: fields
            .get("arguments")
            .map(|args| list(args).iter().map(parse_arg).collect())
            .unwrap_or_default(),
        flags,
        tips,
    });
}

fn parse_arg(reply: &Reply) -> Arg {
    let fields: HashMap<String, Reply> = pairs(reply.clone()).into_iter().collect();
    let flags: Vec<String> = fields.get("flags").map(strings).unwrap_or_default();
    let nested = || -> Vec<Arg> {
        fields
            .get("arguments")
            .map(|args| list(args).iter().map(parse_arg).collect())
            .unwrap_or_default()
    };
    let kind = match fields.get("type").map(text).as_deref() {
        Some("key") => ArgKind::Key,
        Some("integer") => ArgKind::Integer,
        Some("double") => ArgKind::Double,
        Some("unix-time") => ArgKind::UnixTime,
        Some("pattern") => ArgKind::Pattern,
        Some("pure-token") => ArgKind::PureToken,
        Some("oneof") => ArgKind::OneOf(nested()),
        Some("block") => ArgKind::Block(nested()),
        _ => ArgKind::String,
    };
    Arg {
        name: fields.get("name").map(text).unwrap_or_default(),
        kind,
        token: fields.get("token").map(text),
        optional: flags.iter().any(|f| f == "optional"),
        multiple: flags.iter().any(|f| f == "multiple"),
        multiple_token: flags.iter().any(|f| f == "multiple_token"),
    }
}

/// COMMAND INFO as name → (flags, tips), subcommands included (`object|encoding`).
fn command_info(reply: Reply) -> HashMap<String, (Vec<String>, Vec<String>)> {
    let mut info = HashMap::new();
    for entry in list(&reply) {
        add_info(entry, &mut info);
    }
    info
}

fn add_info(entry: &Reply, info: &mut HashMap<String, (Vec<String>, Vec<String>)>) {
    let fields = list(entry);
    if fields.len() < 10 {
        return;
    }
    let name = text(&fields[0]).to_ascii_lowercase();
    info.insert(name, (strings(&fields[2]), strings(&fields[7])));
    for sub in list(&fields[9]) {
        add_info(sub, info);
    }
}

/// A RESP2 map (a flat array of names and values) as pairs.
fn pairs(reply: Reply) -> Vec<(String, Reply)> {
    let items = match reply {
        Reply::Array(items) => items,
        _ => Vec::new(),
    };
    items
        .chunks(2)
        .filter(|pair| pair.len() == 2)
        .map(|pair| (text(&pair[0]).to_ascii_lowercase(), pair[1].clone()))
        .collect()
}

fn list(reply: &Reply) -> &[Reply] {
    match reply {
        Reply::Array(items) => items,
        _ => &[],
    }
}

fn strings(reply: &Reply) -> Vec<String> {
    list(reply).iter().map(text).collect()
}

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Reply::Status(s) => s.clone(),
        Reply::Int(n) => n.to_string(),
        _ => String::new(),
    }
}
