//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS, DRYRUN and
//! HELP, with Redis 7.0's replies and error texts.

use std::sync::Arc;

use rand::RngCore;

use crate::args::reply_help;
use crate::command::flags::*;
use crate::command::{self, acl, CommandSpec, Group, Lookup};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

use super::users::{merge_selector_args, Selector, User};
use super::{check, file, log, UserSlot};

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const USER_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container(
    "acl",
    &[
        CommandSpec::new("cat", -2, USER_FLAGS, cat)
            .doc(
                Group::Server,
                "6.0.0",
                "List the ACL categories or the commands inside a category",
            )
            .complexity("O(1) since the categories and commands are a fixed set.")
            .syntax("[categoryname]"),
        CommandSpec::new("deluser", -3, ADMIN_FLAGS, deluser)
            .doc(
                Group::Server,
                "6.0.0",
                "Remove the specified ACL users and the associated rules",
            )
            .complexity("O(1) amortized time considering the typical user.")
            .syntax("username..."),
        CommandSpec::new("dryrun", -4, ADMIN_FLAGS, dryrun)
            .doc(
                Group::Server,
                "7.0.0",
                "Returns whether the user can execute the given command without executing the command.",
            )
            .complexity("O(1).")
            .syntax("username command [arg...]"),
        CommandSpec::new("genpass", -2, USER_FLAGS, genpass)
            .doc(
                Group::Server,
                "6.0.0",
                "Generate a pseudorandom secure password to use for ACL users",
            )
            .complexity("O(1)")
            .syntax("[bits:integer]"),
        CommandSpec::new("getuser", 3, ADMIN_FLAGS, getuser)
            .doc(Group::Server, "6.0.0", "Get the rules for a specific ACL user")
            .complexity(
                "O(N). Where N is the number of password, command and pattern rules that the user has.",
            )
            .syntax("username")
            .history(&[
                ("6.2.0", "Added Pub/Sub channel patterns."),
                ("7.0.0", "Added selectors and changed the format of key and channel patterns from a list to their rule representation."),
            ]),
        CommandSpec::new("help", 2, LOADING | STALE, help)
            .doc(
                Group::Server,
                "6.0.0",
                "Show helpful text about the different subcommands",
            )
            .complexity("O(1)"),
        CommandSpec::new("list", 2, ADMIN_FLAGS, list)
            .doc(
                Group::Server,
                "6.0.0",
                "List the current ACL rules in ACL config file format",
            )
            .complexity("O(N). Where N is the number of configured users."),
        CommandSpec::new("load", 2, ADMIN_FLAGS, load)
            .doc(
                Group::Server,
                "6.0.0",
                "Reload the ACLs from the configured ACL file",
            )
            .complexity("O(N). Where N is the number of configured users."),
        CommandSpec::new("log", -2, ADMIN_FLAGS, log)
            .doc(
                Group::Server,
                "6.0.0",
                "List latest events denied because of ACLs in place",
            )
            .complexity("O(N) with N being the number of entries shown.")
            .syntax("operation=[count:integer | RESET]"),
        CommandSpec::new("save", 2, ADMIN_FLAGS, save)
            .doc(
                Group::Server,
                "6.0.0",
                "Save the current ACL rules in the configured ACL file",
            )
            .complexity("O(N). Where N is the number of configured users."),
        CommandSpec::new("setuser", -3, ADMIN_FLAGS, setuser)
            .doc(
                Group::Server,
                "6.0.0",
                "Modify or create the rules for a specific ACL user",
            )
            .complexity("O(N). Where N is the number of rules provided.")
            .syntax("username [rule...]")
            .history(&[
                ("6.2.0", "Added Pub/Sub channel patterns."),
                ("7.0.0", "Added selectors and key based permissions."),
            ]),
        CommandSpec::new("users", 2, ADMIN_FLAGS, users)
            .doc(
                Group::Server,
                "6.0.0",
                "List the username of all the configured ACL rules",
            )
            .complexity("O(N). Where N is the number of configured users."),
        CommandSpec::new("whoami", 2, USER_FLAGS, whoami)
            .doc(
                Group::Server,
                "6.0.0",
                "Return the name of the user associated to the current connection",
            )
            .complexity("O(1)"),
    ],
)
.doc(
    Group::Server,
    "6.0.0",
    "A container for Access List Control commands ",
)
.complexity("Depends on subcommand.")];

/// Whether new users and selectors start with every channel (`acl-pubsub-default`).
fn pubsub_default_all(ctx: &Ctx<'_>) -> bool {
    ctx.server.config.read().acl.pubsub_default == "allchannels"
}

/// Whether a name or pattern has characters Redis refuses in one.
fn has_spaces(text: &[u8]) -> bool {
    text.iter()
        .any(|&b| b.is_ascii_whitespace() || b == 0 || b == 0x0b)
}

/// ACL SETUSER username [rule ...]: every rule applies, or none.
fn setuser(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = ctx.arg(2);
    if has_spaces(name) {
        return Err(CommandError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let all_channels = pubsub_default_all(ctx);
    let rules = merge_selector_args(&ctx.args[3..]).map_err(|start| {
        CommandError::err_quoting(
            "Unmatched parenthesis in acl selector starting at '",
            ctx.args[3 + start],
            "'.",
        )
    })?;
    let mut user = match ctx.server.acl.get(name) {
        Some(slot) => slot.read().clone(),
        None => User::new(name, all_channels),
    };
    for rule in &rules {
        if let Err(error) = user.apply(rule, all_channels) {
            let after = format!("': {}", error.text());
            return Err(CommandError::err_quoting(
                "Error in ACL SETUSER modifier '",
                rule,
                &after,
            ));
        }
    }
    let changed = ctx.server.acl.get(name);
    ctx.server.acl.put(user);
    if let Some(slot) = changed {
        disconnect_lost_subscribers(ctx, &slot);
    }
    ctx.out.ok();
    Ok(())
}

/// Closes the connections of `slot`'s user subscribed to a channel or pattern its new rules no
/// longer allow, as Redis 7.0 does.
fn disconnect_lost_subscribers(ctx: &mut Ctx<'_>, slot: &Arc<UserSlot>) {
    let user = slot.read().clone();
    if user.all_selectors().any(|s| s.all_channels) {
        return;
    }
    let subscriptions = ctx.server.pubsub.subscriptions(|handle| {
        handle
            .info
            .lock()
            .user
            .as_ref()
            .is_some_and(|u| Arc::ptr_eq(u, slot))
    });
    let own_id = ctx.client.handle.id;
    for (handle, name, is_pattern) in subscriptions {
        let allowed = user
            .all_selectors()
            .any(|s| check::channel_allowed(s, &name, is_pattern));
        if allowed || handle.is_killed() {
            continue;
        }
        if handle.id == own_id {
            ctx.client.close_after_reply = true;
        } else {
            handle.kill();
        }
    }
}

/// ACL GETUSER username: flags, passwords, the root selector's commands, keys and channels,
/// then the other selectors.
fn getuser(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(slot) = ctx.server.acl.get(ctx.arg(2)) else {
        ctx.out.null();
        return Ok(());
    };
    let user = slot.read();
    ctx.out.map(6);
    ctx.out.bulk(b"flags");
    let flags = user.flags();
    ctx.out.set(flags.len());
    for flag in flags {
        ctx.out.bulk(flag.as_bytes());
    }
    ctx.out.bulk(b"passwords");
    ctx.out.array(user.passwords.len());
    for hash in &user.passwords {
        ctx.out.bulk(hash.as_bytes());
    }
    reply_selector(ctx, &user.root);
    ctx.out.bulk(b"selectors");
    ctx.out.array(user.selectors.len());
    for selector in &user.selectors {
        ctx.out.map(3);
        reply_selector(ctx, selector);
    }
    Ok(())
}

fn reply_selector(ctx: &mut Ctx<'_>, selector: &Selector) {
    ctx.out.bulk(b"commands");
    ctx.out.bulk(selector.describe_commands().as_bytes());
    ctx.out.bulk(b"keys");
    ctx.out.bulk(&selector.describe_keys());
    ctx.out.bulk(b"channels");
    ctx.out.bulk(&selector.describe_channels());
}

/// ACL DELUSER username [username ...]: how many existed.
fn deluser(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.args[2..].iter().any(|name| *name == b"default") {
        return Err(CommandError::err("The 'default' user cannot be removed"));
    }
    let removed: Vec<_> = ctx.args[2..]
        .iter()
        .filter_map(|name| ctx.server.acl.remove(name))
        .collect();
    disconnect_clients_of(ctx, &removed);
    ctx.out.integer(removed.len() as i64);
    Ok(())
}

/// Closes the connections authenticated as users that are gone, as Redis does; the caller's
/// own after this reply.
fn disconnect_clients_of(ctx: &mut Ctx<'_>, users: &[Arc<UserSlot>]) {
    if users.is_empty() {
        return;
    }
    let own_id = ctx.client.handle.id;
    for handle in ctx.server.clients.all() {
        let gone = {
            let info = handle.info.lock();
            info.user
                .as_ref()
                .is_some_and(|u| users.iter().any(|gone| Arc::ptr_eq(u, gone)))
        };
        if !gone {
            continue;
        }
        if handle.id == own_id {
            ctx.client.close_after_reply = true;
        } else {
            handle.kill();
        }
    }
}

/// ACL LIST: each user as a `user` line of the ACL file.
fn list(ctx: &mut Ctx<'_>) -> CmdResult {
    let users = ctx.server.acl.all();
    ctx.out.array(users.len());
    for slot in users {
        ctx.out.bulk(&slot.read().line());
    }
    Ok(())
}

/// ACL USERS
fn users(ctx: &mut Ctx<'_>) -> CmdResult {
    let users = ctx.server.acl.all();
    ctx.out.array(users.len());
    for slot in users {
        ctx.out.bulk(&slot.name);
    }
    Ok(())
}

/// ACL WHOAMI
fn whoami(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = ctx.client.user_name().to_vec();
    ctx.out.bulk(&name);
    Ok(())
}

/// ACL CAT [category]: the categories, or the commands and subcommands in one.
fn cat(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::subcommand_syntax("acl", ctx.arg(1)));
    }
    if ctx.arg_count() == 2 {
        ctx.out.array(acl::NAMES.len());
        for (_, name) in acl::NAMES {
            ctx.out.bulk(name.as_bytes());
        }
        return Ok(());
    }
    let Some(category) = acl::parse(ctx.arg(2)) else {
        return Err(CommandError::err_quoting(
            "Unknown category '",
            crate::error::truncated_bytes(ctx.arg(2), 128),
            "'",
        ));
    };
    let names: Vec<&str> = command::table()
        .entries
        .iter()
        .filter(|entry| entry.acl_categories() & category != 0)
        .map(|entry| entry.full_name.as_str())
        .collect();
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

/// ACL GENPASS [bits]: random hex, four bits a digit (256 bits unless told).
fn genpass(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::subcommand_syntax("acl", ctx.arg(1)));
    }
    let bits = if ctx.arg_count() > 2 {
        ctx.arg_i64(2)?
    } else {
        256
    };
    if !(1..=4096).contains(&bits) {
        return Err(CommandError::err(
            "ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to 4096",
        ));
    }
    let digits = (bits as usize).div_ceil(4);
    let mut bytes = vec![0u8; digits.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ctx.out.bulk(&hex.as_bytes()[..digits]);
    Ok(())
}

/// ACL DRYRUN username command [arg ...]: OK, or why the user may not run it.
fn dryrun(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(slot) = ctx.server.acl.get(ctx.arg(2)) else {
        return Err(CommandError::err_quoting(
            "User '",
            ctx.arg(2),
            "' not found",
        ));
    };
    let args = &ctx.args[3..];
    let entry = match command::table().lookup(args) {
        Lookup::Found(entry) => entry,
        _ => {
            return Err(CommandError::err_quoting(
                "Command '",
                args[0],
                "' not found",
            ))
        }
    };
    if !entry.spec.arity_ok(args.len()) {
        return Err(CommandError::err(format!(
            "wrong number of arguments for '{}' command",
            entry.full_name
        )));
    }
    let verdict = check::check(&slot.read(), entry, args);
    match verdict {
        Ok(()) => ctx.out.ok(),
        Err(denied) => ctx.out.bulk(&denied.describe(entry, args)),
    }
    Ok(())
}

/// ACL LOG [count | RESET]: the newest entries (10 unless told), or none after RESET.
fn log(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::subcommand_syntax("acl", ctx.arg(1)));
    }
    let mut count = 10;
    if ctx.arg_count() == 3 {
        if ctx.arg_is(2, "RESET") {
            ctx.server.acl.log.reset();
            ctx.out.ok();
            return Ok(());
        }
        count = ctx.arg_i64(2)?.max(0) as usize;
    }
    let now_ms = log::now_ms();
    let out = &mut ctx.out;
    ctx.server.acl.log.newest(count, |entries| {
        let entries: Vec<_> = entries.collect();
        out.array(entries.len());
        for entry in entries {
            let fields = entry.fields(now_ms);
            out.map(fields.len());
            for (name, value) in fields {
                out.bulk(name.as_bytes());
                match value {
                    log::Field::Integer(n) => out.integer(n),
                    log::Field::Text(text) => out.bulk(text),
                    log::Field::Double(x) => out.double(x),
                }
            }
        }
    });
    Ok(())
}

/// The ACL file as configured and the directory a relative one is in, or Redis's error when
/// none is configured.
fn acl_file(ctx: &Ctx<'_>) -> Result<(std::path::PathBuf, String), CommandError> {
    let config = ctx.server.config.read();
    let path = config.acl.aclfile.clone();
    if path.is_empty() {
        return Err(CommandError::err(
            "This Redis instance is not configured to use an ACL file. You may want to specify \
             users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you \
             have a Redis configuration file set) in order to store users in the Redis \
             configuration.",
        ));
    }
    Ok((config.dir.clone(), path))
}

/// ACL LOAD: every user from the ACL file, or no change when it has an error. Clients of
/// the users replaced are disconnected.
fn load(ctx: &mut Ctx<'_>) -> CmdResult {
    let (dir, path) = acl_file(ctx)?;
    let users = file::load(&dir, &path, pubsub_default_all(ctx)).map_err(CommandError::err)?;
    let replaced = ctx.server.acl.replace_all(users);
    disconnect_clients_of(ctx, &replaced);
    ctx.out.ok();
    Ok(())
}

/// ACL SAVE: every user to the ACL file.
fn save(ctx: &mut Ctx<'_>) -> CmdResult {
    let (dir, path) = acl_file(ctx)?;
    if let Err(error) = file::save(&dir, &path, &ctx.server.acl.snapshot()) {
        crate::log!(
            Warning,
            "Opening temp ACL file for ACL SAVE: {}",
            crate::error::strerror(&error)
        );
        return Err(CommandError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more \
             information",
        ));
    }
    ctx.out.ok();
    Ok(())
}

/// ACL HELP
fn help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
