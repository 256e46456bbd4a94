//! Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, their shard
//! channel forms SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH, and PUBSUB.

use std::collections::VecDeque;

use super::Space;
use crate::args::reply_help;
use crate::client::{ClientState, ExecMode, ReplyMode};
use crate::command::flags::*;
use crate::command::key_flags::NOT_KEY;
use crate::command::{CommandSpec, Group, KeySpec};
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
        .syntax("pattern=(pattern:pattern){block}..."),
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
    CommandSpec::new("ssubscribe", -2, SUBSCRIBE_FLAGS, ssubscribe)
        .key_specs(SHARD_CHANNELS)
        .doc(Group::PubSub, "7.0.0", "Listen for messages published to the given shard channels")
        .complexity("O(N) where N is the number of shard channels to subscribe to.")
        .syntax("shardchannel..."),
    CommandSpec::new("sunsubscribe", -1, SUBSCRIBE_FLAGS, sunsubscribe)
        .key_specs(SHARD_CHANNELS)
        .doc(Group::PubSub, "7.0.0", "Stop listening for messages posted to the given shard channels")
        .complexity("O(N) where N is the number of clients already subscribed to a shard channel.")
        .syntax("[shardchannel...]"),
    CommandSpec::new("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, spublish)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(NOT_KEY)])
        .doc(Group::PubSub, "7.0.0", "Post a message to a shard channel")
        .complexity("O(N) where N is the number of clients subscribed to the receiving shard channel.")
        .syntax("shardchannel message"),
    CommandSpec::container("pubsub", PUBSUB_SUBCOMMANDS)
        .doc(Group::PubSub, "2.8.0", "A container for Pub/Sub commands")
        .complexity("Depends on subcommand."),
];

/// Shard channels are declared as keys flagged `not_key`, as Redis does, so that cluster mode
/// can route them by slot while GETKEYS and ACL key patterns ignore them.
static SHARD_CHANNELS: &[KeySpec] = &[KeySpec::index(1).range(-1, 1, 0).flags(NOT_KEY)];

static PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, PUBSUB | LOADING | STALE, pubsub_channels)
        .doc(Group::PubSub, "2.8.0", "List active channels")
        .complexity("O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)")
        .syntax("[pattern:pattern]"),
    CommandSpec::new("numsub", -2, PUBSUB | LOADING | STALE, pubsub_numsub)
        .doc(Group::PubSub, "2.8.0", "Get the count of subscribers for channels")
        .complexity("O(N) for the NUMSUB subcommand, where N is the number of requested channels")
        .syntax("[channel...]"),
    CommandSpec::new("shardchannels", -2, PUBSUB | LOADING | STALE, pubsub_shardchannels)
        .doc(Group::PubSub, "7.0.0", "List active shard channels")
        .complexity("O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).")
        .syntax("[pattern:pattern]"),
    CommandSpec::new("shardnumsub", -2, PUBSUB | LOADING | STALE, pubsub_shardnumsub)
        .doc(Group::PubSub, "7.0.0", "Get the count of subscribers for shard channels")
        .complexity("O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels")
        .syntax("[shardchannel...]"),
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

/// A subscribe/unsubscribe confirmation: kind, name (or null), and the count of the client's
/// subscriptions of that kind (channels and patterns together, or shard channels). Redis
/// sends it as a push (an array in RESP2), which CLIENT REPLY OFF does not silence.
fn confirm(ctx: &mut Ctx<'_>, kind: &str, name: Option<&[u8]>, count: usize) {
    ctx.client.output_is_push = true;
    ctx.out.push(3);
    ctx.out.bulk(kind.as_bytes());
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.integer(count as i64);
}

/// The client's own list of subscribed channels in a space.
fn subscribed(client: &mut ClientState, space: Space) -> &mut Vec<Box<[u8]>> {
    match space {
        Space::Classic => &mut client.channels,
        Space::Shard => &mut client.shard_channels,
    }
}

/// The count a (un)subscribe confirmation in `space` reports.
fn subscription_count(client: &ClientState, space: Space) -> usize {
    match space {
        Space::Classic => client.subscriptions(),
        Space::Shard => client.shard_channels.len(),
    }
}

/// SUBSCRIBE / SSUBSCRIBE channel [channel ...]
fn subscribe_to(ctx: &mut Ctx<'_>, space: Space, kind: &str) {
    for i in 1..ctx.arg_count() {
        let channel = ctx.arg(i);
        if ctx
            .server
            .pubsub
            .subscribe(space, &ctx.client.handle, channel)
        {
            subscribed(ctx.client, space).push(channel.into());
        }
        let count = subscription_count(ctx.client, space);
        confirm(ctx, kind, Some(channel), count);
    }
}

/// UNSUBSCRIBE / SUNSUBSCRIBE [channel ...]: the named channels, or every one of the space.
fn unsubscribe_from(ctx: &mut Ctx<'_>, space: Space, kind: &str) {
    let targets: Vec<Box<[u8]>> = if ctx.arg_count() > 1 {
        ctx.args[1..].iter().map(|c| (*c).into()).collect()
    } else {
        subscribed(ctx.client, space).clone()
    };
    if targets.is_empty() {
        let count = subscription_count(ctx.client, space);
        confirm(ctx, kind, None, count);
    }
    for channel in targets {
        ctx.server
            .pubsub
            .unsubscribe(space, ctx.client.handle.id, &channel);
        subscribed(ctx.client, space).retain(|c| *c != channel);
        let count = subscription_count(ctx.client, space);
        confirm(ctx, kind, Some(&channel), count);
    }
}

/// SUBSCRIBE channel [channel ...]
fn subscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    refuse_in_script(ctx, "SUBSCRIBE")?;
    subscribe_to(ctx, Space::Classic, "subscribe");
    Ok(())
}

/// A script expects one reply per command, as EXEC does, but SUBSCRIBE and PSUBSCRIBE are
/// refused only there (scripts reach them only with `DEBUG set-disable-deny-scripts`).
fn refuse_in_script(ctx: &Ctx<'_>, command: &str) -> CmdResult {
    if ctx.server.scripting.running.is_running() {
        return Err(CommandError::err(format!(
            "{command} isn't allowed for a DENY BLOCKING client"
        )));
    }
    Ok(())
}

/// SSUBSCRIBE shardchannel [shardchannel ...]
fn ssubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    // Inside EXEC a client expects one reply per command, which subscribing would break; Redis
    // still lets SUBSCRIBE through there for compatibility, but not the newer SSUBSCRIBE.
    if matches!(ctx.client.mode, ExecMode::Nested { .. }) {
        return Err(CommandError::err(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    subscribe_to(ctx, Space::Shard, "ssubscribe");
    Ok(())
}

/// PSUBSCRIBE pattern [pattern ...]
fn psubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    refuse_in_script(ctx, "PSUBSCRIBE")?;
    for i in 1..ctx.arg_count() {
        let pattern = ctx.arg(i);
        if ctx.server.pubsub.psubscribe(&ctx.client.handle, pattern) {
            ctx.client.patterns.push(pattern.into());
        }
        let count = ctx.client.subscriptions();
        confirm(ctx, "psubscribe", Some(pattern), count);
    }
    Ok(())
}

/// UNSUBSCRIBE [channel ...]
fn unsubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    unsubscribe_from(ctx, Space::Classic, "unsubscribe");
    Ok(())
}

/// SUNSUBSCRIBE [shardchannel ...]
fn sunsubscribe(ctx: &mut Ctx<'_>) -> CmdResult {
    unsubscribe_from(ctx, Space::Shard, "sunsubscribe");
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
        let count = ctx.client.subscriptions();
        confirm(ctx, "punsubscribe", None, count);
    }
    for pattern in targets {
        ctx.server
            .pubsub
            .punsubscribe(ctx.client.handle.id, &pattern);
        ctx.client.patterns.retain(|p| *p != pattern);
        let count = ctx.client.subscriptions();
        confirm(ctx, "punsubscribe", Some(&pattern), count);
    }
    Ok(())
}

/// Drops every subscription of the client without replies (RESET).
pub fn unsubscribe_all(ctx: &mut Ctx<'_>) {
    let id = ctx.client.handle.id;
    for space in [Space::Classic, Space::Shard] {
        for channel in std::mem::take(subscribed(ctx.client, space)) {
            ctx.server.pubsub.unsubscribe(space, id, &channel);
        }
    }
    for pattern in std::mem::take(&mut ctx.client.patterns) {
        ctx.server.pubsub.punsubscribe(id, &pattern);
    }
}

/// Writes the messages queued for the publishing client itself ahead of its reply: Redis
/// delivers to a subscriber while the publish runs, so a RESP3 client subscribed to the
/// channel it publishes on reads the push before the count (inside EXEC, within EXEC's
/// reply). Under CLIENT REPLY OFF or SKIP they stay queued for the connection, since pushes
/// are not replies; so they do inside a script, whose output is not the connection's (the
/// script would read the push as `redis.call`'s result), and they follow the script's reply.
fn write_own_pushes(ctx: &mut Ctx<'_>) {
    if !ctx.client.is_subscriber()
        || ctx.client.reply_mode != ReplyMode::On
        || (ctx.client.mode.nested() && ctx.server.scripting.running.is_running())
    {
        return;
    }
    let mut pushes = VecDeque::new();
    ctx.client.handle.take_pushes(&mut pushes);
    for push in pushes {
        push.received_by(ctx.client);
        let written = push.write(&mut ctx.out);
        ctx.client.handle.push_written(written);
    }
}

/// A message published here reaches the other nodes' subscribers: over the cluster bus in
/// cluster mode (SPUBLISH: to this shard's nodes), else through the replication stream.
fn propagate(ctx: &mut Ctx<'_>, shard: bool) {
    match ctx.server.cluster.node() {
        Some(node) => node.bus.publish(ctx.arg(1), ctx.arg(2), shard),
        None => ctx.propagate_to_replicas(),
    }
}

/// PUBLISH channel message
fn publish(ctx: &mut Ctx<'_>) -> CmdResult {
    let receivers = ctx.server.pubsub.publish(ctx.arg(1), ctx.arg(2));
    propagate(ctx, false);
    write_own_pushes(ctx);
    ctx.out.integer(receivers as i64);
    Ok(())
}

/// SPUBLISH shardchannel message
fn spublish(ctx: &mut Ctx<'_>) -> CmdResult {
    let receivers = ctx.server.pubsub.spublish(ctx.arg(1), ctx.arg(2));
    propagate(ctx, true);
    write_own_pushes(ctx);
    ctx.out.integer(receivers as i64);
    Ok(())
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]
fn list_channels(ctx: &mut Ctx<'_>, space: Space) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::subcommand_syntax("PUBSUB", ctx.arg(1)));
    }
    let channels = ctx.server.pubsub.channels(space, ctx.args.get(2).copied());
    ctx.out.array(channels.len());
    for channel in channels {
        ctx.out.bulk(&channel);
    }
    Ok(())
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: channel and count pairs, a flat array in RESP3
/// too, as Redis 7.0 sends them.
fn count_subscribers(ctx: &mut Ctx<'_>, space: Space) -> CmdResult {
    ctx.out.array((ctx.arg_count() - 2) * 2);
    for i in 2..ctx.arg_count() {
        ctx.out.bulk(ctx.arg(i));
        let count = ctx.server.pubsub.subscriber_count(space, ctx.arg(i));
        ctx.out.integer(count as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>) -> CmdResult {
    list_channels(ctx, Space::Classic)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>) -> CmdResult {
    list_channels(ctx, Space::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx<'_>) -> CmdResult {
    count_subscribers(ctx, Space::Classic)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>) -> CmdResult {
    count_subscribers(ctx, Space::Shard)
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
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
    Ok(())
}
