//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB.

use crate::args::reply_help;
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

const SUBSCRIBE_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, SUBSCRIBE_FLAGS, subscribe)
        .doc(Group::PubSub, "2.0.0", "Listen for messages published to the given channels")
        .complexity("O(N) where N is the number of channels to subscribe to.")
        .syntax("channel..."),
    CommandSpec::new("unsubscribe", -1, SUBSCRIBE_FLAGS, unsubscribe)
        .doc(Group::PubSub, "2.0.0", "Stop listening for messages posted to the given channels")
        .complexity("O(N) where N is the number of clients already subscribed to a channel.")
        .syntax("[channel...]"),
    CommandSpec::new("psubscribe", -2, SUBSCRIBE_FLAGS, psubscribe)
        .doc(Group::PubSub, "2.0.0", "Listen for messages published to channels matching the given patterns")
        .complexity("O(N) where N is the number of patterns the client is already subscribed to.")
        .syntax("pattern:pattern..."),
    CommandSpec::new("punsubscribe", -1, SUBSCRIBE_FLAGS, punsubscribe)
        .doc(Group::PubSub, "2.0.0", "Stop listening for messages posted to channels matching the given patterns")
        .complexity(
            "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of \
             total patterns subscribed in the system (by any client).",
        )
        .syntax("[pattern:pattern...]"),
    CommandSpec::new("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, publish)
        .doc(Group::PubSub, "2.0.0", "Post a message to a channel")
        .complexity(
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number \
             of subscribed patterns (by any client).",
        )
        .syntax("channel message"),
    CommandSpec::container("pubsub", PUBSUB_SUBCOMMANDS)
        .doc(Group::PubSub, "2.8.0", "A container for Pub/Sub commands")
        .complexity("Depends on subcommand."),
];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, PUBSUB | LOADING | STALE, pubsub_channels)
        .doc(Group::PubSub, "2.8.0", "List active channels")
        .complexity("O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)")
        .syntax("[pattern:pattern]"),
    CommandSpec::new("numsub", -2, PUBSUB | LOADING | STALE, pubsub_numsub)
        .doc(Group::PubSub, "2.8.0", "Get the count of subscribers for channels")
        .complexity("O(N) for the NUMSUB subcommand, where N is the number of requested channels")
        .syntax("[channel...]"),
    CommandSpec::new("numpat", 2, PUBSUB | LOADING | STALE, pubsub_numpat)
        .doc(Group::PubSub, "2.8.0", "Get the count of unique patterns pattern subscriptions"),
    CommandSpec::new("help", 2, LOADING | STALE, pubsub_help)
        .doc(Group::PubSub, "6.2.0", "Show helpful text about the different subcommands"),
];

/// Commands a RESP2 client may send while subscribed: replies and messages share the
/// connection, so anything else would be ambiguous.
pub fn allowed_while_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// A subscribe/unsubscribe confirmation: kind, name (or null), and the subscription count.
fn confirm(ctx: &mut Ctx<'_>, kind: &str, name: Option<&[u8]>) {
    ctx.out.push(3);
    ctx.out.bulk(kind.as_bytes());
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.integer(ctx.client.subscriptions() as i64);
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    for i in 1..ctx.arg_count() {
        let channel = ctx.arg(i);
        if ctx.server.pubsub.subscribe(&ctx.client.handle, channel) {
            ctx.client.channels.push(channel.into());
        }
        confirm(ctx, "subscribe", Some(channel));
    }
    Ok(())
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    for i in 1..ctx.arg_count() {
        let pattern = ctx.arg(i);
        if ctx.server.pubsub.psubscribe(&ctx.client.handle, pattern) {
            ctx.client.patterns.push(pattern.into());
        }
        confirm(ctx, "psubscribe", Some(pattern));
    }
    Ok(())
}

/// UNSUBSCRIBE [channel ...]
fn unsubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    let targets: Vec<Box<[u8]>> = if ctx.arg_count() > 1 {
        ctx.args[1..].iter().map(|c| (*c).into()).collect()
    } else {
        ctx.client.channels.clone()
    };
    if targets.is_empty() {
        confirm(ctx, "unsubscribe", None);
    }
    for channel in targets {
        ctx.server
            .pubsub
            .unsubscribe(ctx.client.handle.id, &channel);
        ctx.client.channels.retain(|c| *c != channel);
        confirm(ctx, "unsubscribe", Some(&channel));
    }
    Ok(())
}

/// PUNSUBSCRIBE [pattern ...]
fn punsubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    let targets: Vec<Box<[u8]>> = if ctx.arg_count() > 1 {
        ctx.args[1..].iter().map(|c| (*c).into()).collect()
    } else {
        ctx.client.patterns.clone()
    };
    if targets.is_empty() {
        confirm(ctx, "punsubscribe", None);
    }
    for pattern in targets {
        ctx.server
            .pubsub
            .punsubscribe(ctx.client.handle.id, &pattern);
        ctx.client.patterns.retain(|p| *p != pattern);
        confirm(ctx, "punsubscribe", Some(&pattern));
    }
    Ok(())
}

/// Drops every subscription of the client without replies (RESET).
pub fn unsubscribe_all(ctx: &mut Ctx<'_>) {
    let id = ctx.client.handle.id;
    for channel in std::mem::take(&mut ctx.client.channels) {
        ctx.server.pubsub.unsubscribe(id, &channel);
    }
    for pattern in std::mem::take(&mut ctx.client.patterns) {
        ctx.server.pubsub.punsubscribe(id, &pattern);
    }
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx<'_>) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(ctx.arg(1), ctx.arg(2));
    ctx.out.integer(receivers as i64);
    Ok(())
}

/// PUBSUB CHANNELS [pattern]
fn pubsub_channels(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(ctx.arg(1))
        )));
    }
    let channels = ctx.server.pubsub.channels(ctx.args.get(2).copied());
    ctx.out.array(channels.len());
    for channel in channels {
        ctx.out.bulk(&channel);
    }
    Ok(())
}

/// PUBSUB NUMSUB [channel ...]
fn pubsub_numsub(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.map(ctx.arg_count() - 2);
    for i in 2..ctx.arg_count() {
        ctx.out.bulk(ctx.arg(i));
        ctx.out
            .integer(ctx.server.pubsub.subscriber_count(ctx.arg(i)) as i64);
    }
    Ok(())
}

/// PUBSUB NUMPAT
fn pubsub_numpat(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.integer(ctx.server.pubsub.pattern_count() as i64);
    Ok(())
}

/// PUBSUB HELP
fn pubsub_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ],
    );
    Ok(())
}
