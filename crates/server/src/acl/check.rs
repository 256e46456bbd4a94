//! The permission check: whether a user may run a command with these arguments, as Redis 7.0's
//! `ACLCheckAllUserCommandPerm`. Each selector is tried in turn (the root first); the command
//! is allowed when one allows it. Otherwise the most specific refusal is reported (a channel
//! over a key over the command; between two of a kind, the later argument), with the argument
//! that caused it.

use std::sync::Arc;
use std::time::Instant;

use redis_lite_engine::glob::glob_match;

use crate::client::ClientState;
use crate::command::{flags, key_flags, CommandEntry, KeyRef};
use crate::error::CommandError;
use crate::server::Server;

use super::log::{now_ms, Context, Entry, Reason};
use super::users::{Selector, User, KEY_READ, KEY_WRITE};
use super::UserSlot;

/// Why a user may not run a command; a key or channel names its argument's index. The order
/// is Redis's choice between selectors' refusals: a channel over a key over the command, and
/// between two of a kind the one further along the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// The NOPERM error a refused command gets.
    pub fn noperm(self, entry: &CommandEntry) -> String {
        match self {
            Denied::Command => format!(
                "NOPERM this user has no permissions to run the '{}' command",
                entry.full_name
            ),
            Denied::Key(_) => {
                "NOPERM this user has no permissions to access one of the keys used as arguments"
                    .into()
            }
            Denied::Channel(_) => "NOPERM this user has no permissions to access one of the \
                                   channels used as arguments"
                .into(),
        }
    }

    /// ACL DRYRUN's description, naming the key or channel.
    pub fn describe(self, entry: &CommandEntry, args: &[&[u8]]) -> Vec<u8> {
        let mut text = b"This user has no permissions to ".to_vec();
        match self {
            Denied::Command => {
                text.extend_from_slice(b"run the '");
                text.extend_from_slice(entry.full_name.as_bytes());
                text.extend_from_slice(b"' command");
            }
            Denied::Key(i) | Denied::Channel(i) => {
                text.extend_from_slice(b"access the '");
                text.extend_from_slice(args[i]);
                text.extend_from_slice(match self {
                    Denied::Key(_) => b"' key",
                    _ => b"' channel",
                });
            }
        }
        text
    }
}

/// How a command names channels: the ones it publishes to or subscribes to are checked,
/// patterns (PSUBSCRIBE) compared literally.
#[derive(Clone, Copy, PartialEq)]
enum Channels {
    None,
    Publish,
    Subscribe,
    SubscribePatterns,
}

fn channels_of(entry: &CommandEntry) -> Channels {
    match entry.full_name.as_str() {
        "publish" | "spublish" => Channels::Publish,
        "subscribe" | "ssubscribe" => Channels::Subscribe,
        "psubscribe" => Channels::SubscribePatterns,
        _ => Channels::None,
    }
}

/// The user may run `args` (`args[0]` the command's name, `entry` what it resolved to).
pub fn check(user: &User, entry: &CommandEntry, args: &[&[u8]]) -> Result<(), Denied> {
    let mut keys = None;
    let mut refusal: Option<Denied> = None;
    for selector in user.all_selectors() {
        match check_selector(selector, entry, args, &mut keys) {
            Ok(()) => return Ok(()),
            Err(denied) => {
                if refusal.is_none_or(|r| denied > r) {
                    refusal = Some(denied);
                }
            }
        }
    }
    Err(refusal.unwrap_or(Denied::Command))
}

fn check_selector(
    selector: &Selector,
    entry: &CommandEntry,
    args: &[&[u8]],
    keys: &mut Option<Vec<KeyRef>>,
) -> Result<(), Denied> {
    if !selector.all_commands
        && !entry.spec.has(flags::NO_AUTH)
        && !selector.commands[entry.id]
        && !first_arg_allowed(selector, entry, args)
    {
        return Err(Denied::Command);
    }
    if !selector.all_keys && entry.spec.has_keys() {
        let keys = keys.get_or_insert_with(|| entry.spec.find_keys(args).unwrap_or_default());
        for key in keys.iter() {
            if !key_allowed(selector, args[key.pos], key.flags) {
                return Err(Denied::Key(key.pos));
            }
        }
    }
    let channels = channels_of(entry);
    if !selector.all_channels && channels != Channels::None {
        let named = if channels == Channels::Publish {
            1..2
        } else {
            1..args.len()
        };
        for i in named {
            if !channel_allowed(selector, args[i], channels == Channels::SubscribePatterns) {
                return Err(Denied::Channel(i));
            }
        }
    }
    Ok(())
}

/// `+select|0`: a first argument allowed for an otherwise denied command.
fn first_arg_allowed(selector: &Selector, entry: &CommandEntry, args: &[&[u8]]) -> bool {
    let Some(arg) = args.get(if entry.parent.is_some() { 2 } else { 1 }) else {
        return false;
    };
    selector
        .first_args
        .iter()
        .find(|(id, _)| *id == entry.id)
        .is_some_and(|(_, allowed)| allowed.iter().any(|a| a.eq_ignore_ascii_case(arg)))
}

/// A key is allowed by a pattern that matches it and grants what its key spec does with it:
/// reading its value (ACCESS) needs `%R`, changing it (INSERT, UPDATE, DELETE) `%W`.
pub fn key_allowed(selector: &Selector, key: &[u8], spec_flags: key_flags::KeyFlags) -> bool {
    let mut needed = 0;
    if spec_flags & key_flags::ACCESS != 0 {
        needed |= KEY_READ;
    }
    if spec_flags & (key_flags::INSERT | key_flags::UPDATE | key_flags::DELETE) != 0 {
        needed |= KEY_WRITE;
    }
    selector
        .keys
        .iter()
        .any(|p| p.flags & needed == needed && glob_match(&p.pattern, key, false))
}

/// A channel is allowed by a pattern matching it; a subscribed pattern must be one of the
/// user's patterns exactly.
pub fn channel_allowed(selector: &Selector, channel: &[u8], is_pattern: bool) -> bool {
    selector.channels.iter().any(|p| {
        if is_pattern {
            p.as_slice() == channel
        } else {
            glob_match(p, channel, false)
        }
    })
}

impl Denied {
    fn log_reason(self) -> Reason {
        match self {
            Denied::Command => Reason::Command,
            Denied::Key(_) => Reason::Key,
            Denied::Channel(_) => Reason::Channel,
        }
    }

    /// What ACL LOG names: the command, or the key or channel refused.
    fn object(self, entry: &CommandEntry, args: &[&[u8]]) -> Vec<u8> {
        match self {
            Denied::Command => entry.full_name.as_bytes().to_vec(),
            Denied::Key(i) | Denied::Channel(i) => args[i].to_vec(),
        }
    }

    /// The reason EXEC gives for a queued command the user may no longer run.
    fn exec_reason(self) -> &'static str {
        match self {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        }
    }

    /// The error a script's `redis.call` gets.
    pub fn script_error(self) -> &'static str {
        match self {
            Denied::Command => {
                "ERR The user executing the script can't run this command or subcommand"
            }
            Denied::Key(_) => {
                "ERR The user executing the script can't access at least one of the keys \
                 mentioned in the command arguments"
            }
            Denied::Channel(_) => {
                "ERR The user executing the script can't publish to the channel mentioned in \
                 the command"
            }
        }
    }
}

/// The client's user, the default one unless it authenticated as another.
#[inline]
pub fn user_of<'c>(server: &'c Server, client: &'c ClientState) -> &'c Arc<UserSlot> {
    client
        .user
        .as_ref()
        .unwrap_or_else(|| server.acl.default_user())
}

/// Whether the client's user may run the command; a refusal is logged in ACL LOG. The
/// commands of a master link and of the AOF loader run as no user, which may do anything.
pub fn permission(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
    context: Context,
) -> Result<(), Denied> {
    let slot = user_of(server, client);
    if slot.unrestricted() || client.kind.obeyed() {
        return Ok(());
    }
    let verdict = check(&slot.read(), entry, args);
    if let Err(denied) = verdict {
        if context != Context::Lua {
            // Redis takes a command as the client's last one when it looks it up, so the
            // entry's client line names the refused command (a script's names its caller's).
            client.handle.info.lock().last_command =
                crate::command::table().entries[entry.id].full_name.as_str();
        }
        log_refusal(
            server,
            client,
            denied.log_reason(),
            context,
            denied.object(entry, args),
            slot.name.clone(),
        );
    }
    verdict
}

/// Adds a refusal to ACL LOG, with the client as CLIENT LIST shows it now.
pub fn log_refusal(
    server: &Server,
    client: &ClientState,
    reason: Reason,
    context: Context,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    let max_len = server.config.read().acl.acllog_max_len.max(0) as usize;
    server.acl.log.add(
        Entry {
            count: 1,
            reason,
            context,
            object,
            username,
            updated_ms: now_ms(),
            client_info: client.handle.describe(Instant::now()),
        },
        max_len,
    );
}

/// The pipeline's rule (after authentication): NOPERM for what the user may not run. Inside
/// MULTI it is judged when queued; EXEC judges each queued command again, in case the rules
/// changed meanwhile. A user with every permission (the default user, usually) costs one
/// atomic load here; the check itself is kept out of line.
#[inline]
pub fn refusal(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    if user_of(server, client).unrestricted() {
        return None;
    }
    checked_refusal(server, client, entry, args)
}

#[cold]
#[inline(never)]
fn checked_refusal(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    let from_exec = client.mode.nested();
    let context = if from_exec || client.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    };
    let denied = permission(server, client, entry, args, context).err()?;
    Some(CommandError::coded(if from_exec {
        format!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and \
             the EXEC call. This command is no longer allowed for the following reason: {}",
            denied.exec_reason()
        )
    } else {
        denied.noperm(entry)
    }))
}

/// Whether one of the selectors that allow the command may read every key (`allkeys`, or a
/// `*` pattern with read permission): SORT's BY and GET patterns need that.
pub fn full_key_access(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> bool {
    let slot = user_of(server, client);
    if slot.unrestricted() || client.kind.obeyed() {
        return true;
    }
    let user = slot.read();
    let mut keys = None;
    let full = user.all_selectors().any(|selector| {
        check_selector(selector, entry, args, &mut keys).is_ok()
            && (selector.all_keys
                || selector
                    .keys
                    .iter()
                    .any(|p| p.flags & KEY_READ != 0 && p.pattern == b"*"))
    });
    full
}
