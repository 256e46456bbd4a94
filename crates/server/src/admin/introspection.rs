//! COMMAND and its subcommands: what the server supports, read straight from the command table.

use redis_lite_engine::glob::glob_match;

use crate::args::reply_help;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::key_flags::{self, KeyFlags};
use crate::command::Group;
use crate::command::{
    table, BeginSearch, CommandEntry, CommandSpec, DocArg, FindKeys, KeyRef, KeySpec,
};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

pub static COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("command", -1, LOADING | STALE, command_all)
            .tips(&["nondeterministic_output_order"])
            .doc(
                Group::Server,
                "2.8.13",
                "Get array of Redis command details",
            )
            .complexity("O(N) where N is the total number of Redis commands")
            .acl(acl::CONNECTION)
            .subcommands(SUBCOMMANDS),
    ];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, LOADING | STALE, command_count)
        .doc(
            Group::Server,
            "2.8.13",
            "Get total number of Redis commands",
        )
        .acl(acl::CONNECTION),
    CommandSpec::new("list", -2, LOADING | STALE, command_list)
        .tips(&["nondeterministic_output_order"])
        .doc(
            Group::Server,
            "7.0.0",
            "Get an array of Redis command names",
        )
        .complexity("O(N) where N is the total number of Redis commands")
        .syntax(
            "[FILTERBY filterby=(MODULE module-name | ACLCAT category | PATTERN pattern:pattern)]",
        )
        .acl(acl::CONNECTION),
    CommandSpec::new("info", -2, LOADING | STALE, command_info)
        .tips(&["nondeterministic_output_order"])
        .doc(
            Group::Server,
            "2.8.13",
            "Get array of specific Redis command details, or all when no argument is given.",
        )
        .complexity("O(N) where N is the number of commands to look up")
        .syntax("[command-name...]")
        .acl(acl::CONNECTION)
        .history(&[(
            "7.0.0",
            "Allowed to be called with no argument to get info on all commands.",
        )]),
    CommandSpec::new("docs", -2, LOADING | STALE, command_docs)
        .tips(&["nondeterministic_output_order"])
        .doc(
            Group::Server,
            "7.0.0",
            "Get array of specific Redis command documentation",
        )
        .complexity("O(N) where N is the number of commands to look up")
        .syntax("[command-name...]")
        .acl(acl::CONNECTION),
    CommandSpec::new("getkeys", -4, LOADING | STALE, command_getkeys)
        .doc(
            Group::Server,
            "2.8.13",
            "Extract keys given a full Redis command",
        )
        .complexity("O(N) where N is the number of arguments to the command")
        .acl(acl::CONNECTION),
    CommandSpec::new(
        "getkeysandflags",
        -4,
        LOADING | STALE,
        command_getkeysandflags,
    )
    .doc(
        Group::Server,
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
    )
    .complexity("O(N) where N is the number of arguments to the command")
    .acl(acl::CONNECTION),
    CommandSpec::new("help", 2, LOADING | STALE, command_help)
        .doc(
            Group::Server,
            "5.0.0",
            "Show helpful text about the different subcommands",
        )
        .acl(acl::CONNECTION),
];

/// One key spec as COMMAND INFO shows it: a map of notes (when there are any), flags,
/// begin_search and find_keys, each search with its type and spec.
fn reply_key_spec(ctx: &mut Ctx<'_>, spec: &KeySpec) {
    let notes = !spec.notes.is_empty();
    ctx.out.map(3 + notes as usize);
    if notes {
        ctx.out.bulk(b"notes");
        ctx.out.bulk(spec.notes.as_bytes());
    }
    ctx.out.bulk(b"flags");
    reply_key_flags(ctx, spec.flags);
    ctx.out.bulk(b"begin_search");
    ctx.out.map(2);
    ctx.out.bulk(b"type");
    match spec.begin_search {
        BeginSearch::Index(index) => {
            ctx.out.bulk(b"index");
            ctx.out.bulk(b"spec");
            ctx.out.map(1);
            ctx.out.bulk(b"index");
            ctx.out.integer(index as i64);
        }
        BeginSearch::Keyword { keyword, startfrom } => {
            ctx.out.bulk(b"keyword");
            ctx.out.bulk(b"spec");
            ctx.out.map(2);
            ctx.out.bulk(b"keyword");
            ctx.out.bulk(keyword.as_bytes());
            ctx.out.bulk(b"startfrom");
            ctx.out.integer(startfrom as i64);
        }
        BeginSearch::Unknown => {
            ctx.out.bulk(b"unknown");
            ctx.out.bulk(b"spec");
            ctx.out.map(0);
        }
    }
    ctx.out.bulk(b"find_keys");
    ctx.out.map(2);
    ctx.out.bulk(b"type");
    let fields: &[(&str, i32)] = match spec.find_keys {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            ctx.out.bulk(b"range");
            &[("lastkey", lastkey), ("keystep", keystep), ("limit", limit)]
        }
        FindKeys::KeyNum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            ctx.out.bulk(b"keynum");
            &[
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", keystep),
            ]
        }
        FindKeys::Unknown => {
            ctx.out.bulk(b"unknown");
            &[]
        }
    };
    ctx.out.bulk(b"spec");
    ctx.out.map(fields.len());
    for (name, value) in fields {
        ctx.out.bulk(name.as_bytes());
        ctx.out.integer(*value as i64);
    }
}

/// Key-spec flags: a set of status strings.
fn reply_key_flags(ctx: &mut Ctx<'_>, flags: KeyFlags) {
    ctx.out.set(key_flags::names(flags).count());
    for name in key_flags::names(flags) {
        ctx.out.simple(name);
    }
}

fn reply_info(ctx: &mut Ctx<'_>, entry: &CommandEntry) {
    let spec = entry.spec;
    let table = table();
    ctx.out.array(10);
    ctx.out.bulk(entry.full_name.as_bytes());
    ctx.out.integer(spec.arity as i64);
    let flag_names: Vec<&str> = if entry.is_container() {
        Vec::new()
    } else {
        spec.info_flags().collect()
    };
    ctx.out.set(flag_names.len());
    for name in flag_names {
        ctx.out.simple(name);
    }
    let (first, last, step, _) = spec.legacy_range();
    ctx.out.integer(first as i64);
    ctx.out.integer(last as i64);
    ctx.out.integer(step as i64);
    let categories = entry.acl_categories();
    ctx.out.set(categories.count_ones() as usize);
    for name in acl::names(categories) {
        ctx.out.simple(&format!("@{name}"));
    }
    ctx.out.set(spec.tips.len());
    for tip in spec.tips {
        ctx.out.bulk(tip.as_bytes());
    }
    // Key specs are a set in RESP3, as are no subcommands; subcommands are an array.
    ctx.out.set(spec.key_specs.len());
    for key_spec in spec.key_specs {
        reply_key_spec(ctx, key_spec);
    }
    let subs: Vec<&CommandEntry> = table.subcommands(entry).collect();
    if subs.is_empty() {
        ctx.out.set(0);
    } else {
        ctx.out.array(subs.len());
    }
    for sub in subs {
        reply_info(ctx, sub);
    }
}

/// COMMAND
fn command_all(ctx: &mut Ctx<'_>) -> CmdResult {
    let entries: Vec<&CommandEntry> = table().top_level().collect();
    ctx.out.array(entries.len());
    for entry in entries {
        reply_info(ctx, entry);
    }
    Ok(())
}

/// COMMAND COUNT
fn command_count(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.integer(table().top_level().count() as i64);
    Ok(())
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]
fn command_list(ctx: &mut Ctx<'_>) -> CmdResult {
    let filter: Box<dyn Fn(&CommandEntry) -> bool> = match ctx.arg_count() {
        2 => Box::new(|_| true),
        5 if ctx.arg_is(2, "FILTERBY") => {
            let value = ctx.arg(4).to_vec();
            if ctx.arg_is(3, "MODULE") {
                // No modules can be loaded, so no command belongs to one.
                Box::new(|_| false)
            } else if ctx.arg_is(3, "ACLCAT") {
                let wanted = acl::parse(&value).unwrap_or(0);
                Box::new(move |e| e.acl_categories() & wanted != 0)
            } else if ctx.arg_is(3, "PATTERN") {
                Box::new(move |e| glob_match(&value, e.full_name.as_bytes(), true))
            } else {
                return Err(CommandError::Syntax);
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let names: Vec<&str> = table()
        .reachable()
        .filter(|e| filter(e))
        .map(|e| e.full_name.as_str())
        .collect();
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// COMMAND INFO [command-name ...]
fn command_info(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() == 2 {
        return command_all(ctx);
    }
    ctx.out.array(ctx.arg_count() - 2);
    for i in 2..ctx.arg_count() {
        match table().by_full_name(ctx.arg(i)) {
            Some(entry) => reply_info(ctx, entry),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// One argument of COMMAND DOCS, its fields in Redis's order.
fn reply_doc_arg(ctx: &mut Ctx<'_>, arg: &DocArg) {
    let flags: Vec<&str> = [
        ("optional", arg.optional),
        ("multiple", arg.multiple),
        ("multiple_token", arg.multiple_token),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect();
    let fields = 2
        + usize::from(arg.key_spec_index.is_some())
        + usize::from(arg.token.is_some())
        + usize::from(arg.since.is_some())
        + usize::from(arg.deprecated_since.is_some())
        + usize::from(!flags.is_empty())
        + usize::from(!arg.args.is_empty());
    ctx.out.map(fields);
    ctx.out.bulk(b"name");
    ctx.out.bulk(arg.name.as_bytes());
    ctx.out.bulk(b"type");
    ctx.out.bulk(arg.kind.as_bytes());
    if let Some(index) = arg.key_spec_index {
        ctx.out.bulk(b"key_spec_index");
        ctx.out.integer(index as i64);
    }
    let texts = [
        ("token", &arg.token),
        ("since", &arg.since),
        ("deprecated_since", &arg.deprecated_since),
    ];
    for (field, value) in texts {
        if let Some(value) = value {
            ctx.out.bulk(field.as_bytes());
            ctx.out.bulk(value.as_bytes());
        }
    }
    if !flags.is_empty() {
        ctx.out.bulk(b"flags");
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f);
        }
    }
    if !arg.args.is_empty() {
        ctx.out.bulk(b"arguments");
        ctx.out.array(arg.args.len());
        for child in &arg.args {
            reply_doc_arg(ctx, child);
        }
    }
}

/// One command's COMMAND DOCS map, its fields in Redis's order.
fn reply_docs(ctx: &mut Ctx<'_>, entry: &CommandEntry) {
    let spec = entry.spec;
    let subs: Vec<&CommandEntry> = table().subcommands(entry).collect();
    let doc_flags: Vec<&str> = [
        ("deprecated", spec.deprecated.is_some()),
        ("syscmd", spec.syscmd),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect();
    // A few commands (MONITOR...) have no complexity in Redis's docs: an empty one is left out.
    let fields = 3
        + usize::from(!spec.complexity.is_empty())
        + usize::from(!doc_flags.is_empty())
        + 2 * usize::from(spec.deprecated.is_some())
        + usize::from(!spec.history.is_empty())
        + usize::from(!entry.doc_args.is_empty())
        + usize::from(!subs.is_empty());
    ctx.out.map(fields);
    ctx.out.bulk(b"summary");
    ctx.out.bulk(spec.summary.as_bytes());
    ctx.out.bulk(b"since");
    ctx.out.bulk(spec.since.as_bytes());
    ctx.out.bulk(b"group");
    ctx.out.bulk(spec.group.name().as_bytes());
    if !spec.complexity.is_empty() {
        ctx.out.bulk(b"complexity");
        ctx.out.bulk(spec.complexity.as_bytes());
    }
    if !doc_flags.is_empty() {
        ctx.out.bulk(b"doc_flags");
        ctx.out.set(doc_flags.len());
        for flag in doc_flags {
            ctx.out.simple(flag);
        }
    }
    if let Some((since, replaced_by)) = spec.deprecated {
        ctx.out.bulk(b"deprecated_since");
        ctx.out.bulk(since.as_bytes());
        ctx.out.bulk(b"replaced_by");
        ctx.out.bulk(replaced_by.as_bytes());
    }
    if !spec.history.is_empty() {
        ctx.out.bulk(b"history");
        ctx.out.set(spec.history.len());
        for (version, change) in spec.history {
            ctx.out.array(2);
            ctx.out.bulk(version.as_bytes());
            ctx.out.bulk(change.as_bytes());
        }
    }
    if !entry.doc_args.is_empty() {
        ctx.out.bulk(b"arguments");
        ctx.out.array(entry.doc_args.len());
        for arg in &entry.doc_args {
            reply_doc_arg(ctx, arg);
        }
    }
    if !subs.is_empty() {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(subs.len());
        for sub in subs {
            ctx.out.bulk(sub.full_name.as_bytes());
            reply_docs(ctx, sub);
        }
    }
}

/// COMMAND DOCS [command-name ...]
fn command_docs(ctx: &mut Ctx<'_>) -> CmdResult {
    let entries: Vec<&CommandEntry> = if ctx.arg_count() == 2 {
        table().top_level().collect()
    } else {
        ctx.args[2..]
            .iter()
            .filter_map(|name| table().by_full_name(name))
            .collect()
    };
    ctx.out.map(entries.len());
    for entry in entries {
        ctx.out.bulk(entry.full_name.as_bytes());
        reply_docs(ctx, entry);
    }
    Ok(())
}

/// The keys of a full command, or the error COMMAND GETKEYS gives.
fn find_keys(args: &[&[u8]]) -> Result<Vec<KeyRef>, CommandError> {
    let entry = match table().lookup(args) {
        crate::command::Lookup::Found(entry) => entry,
        _ => return Err(CommandError::err("Invalid command specified")),
    };
    let spec = entry.spec;
    if !spec.has_keys() {
        return Err(CommandError::err("The command has no key arguments"));
    }
    if !spec.arity_ok(args.len()) {
        return Err(CommandError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    match spec.find_keys_strictly(args) {
        Some(keys) if !keys.is_empty() => Ok(keys),
        // A command whose keys are optional (EVAL, FCALL) has none, rather than invalid
        // arguments, even when its key count cannot be read: Redis falls back to its own
        // key finder, which then finds nothing.
        _ if spec.has(NO_MANDATORY_KEYS) => Ok(Vec::new()),
        _ => Err(CommandError::err("Invalid arguments specified for command")),
    }
}

/// COMMAND GETKEYS command [arg ...]
fn command_getkeys(ctx: &mut Ctx<'_>) -> CmdResult {
    let keys = find_keys(&ctx.args[2..])?;
    ctx.out.array(keys.len());
    for key in keys {
        ctx.out.bulk(ctx.arg(2 + key.pos));
    }
    Ok(())
}

/// COMMAND GETKEYSANDFLAGS command [arg ...]
fn command_getkeysandflags(ctx: &mut Ctx<'_>) -> CmdResult {
    let keys = find_keys(&ctx.args[2..])?;
    ctx.out.array(keys.len());
    for key in keys {
        ctx.out.array(2);
        ctx.out.bulk(ctx.arg(2 + key.pos));
        reply_key_flags(ctx, key.flags);
    }
    Ok(())
}

/// COMMAND HELP
fn command_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}
