//! The permission check: whether a user may run a command with these arguments, as Redis 7.0's
//! `ACLCheckAllUserCommandPerm`. Each selector is tried in turn (the root first); the command
//! is allowed when one allows it. Otherwise the most specific refusal is reported (a channel
//! over a key over the command), with the argument that caused it.

use redis_lite_engine::glob::glob_match;

use crate::command::{flags, key_flags, CommandEntry, KeyRef};

use super::users::{Selector, User, KEY_READ, KEY_WRITE};

/// Why a user may not run a command; a key or channel names its argument's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    fn rank(self) -> u8 {
        match self {
            Denied::Command => 1,
            Denied::Key(_) => 2,
            Denied::Channel(_) => 3,
        }
    }

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
                if refusal.is_none_or(|r| denied.rank() > r.rank()) {
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
