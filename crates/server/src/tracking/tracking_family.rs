//! The tracking subcommands of CLIENT: TRACKING, CACHING, GETREDIR and TRACKINGINFO, with
//! Redis 7.0's checks in its order and its error texts. The CLIENT container lists them.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::ops::Bound::{Excluded, Included, Unbounded};
use std::sync::atomic::Ordering::Relaxed;

use super::Options;
use crate::command::flags::*;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

const FLAGS: u32 = NOSCRIPT | LOADING | STALE;

/// CLIENT's tracking subcommands, which its container lists.
pub const TRACKING: CommandSpec = CommandSpec::new("tracking", -3, FLAGS, client_tracking)
    .doc(
        Group::Connection,
        "6.0.0",
        "Enable or disable server assisted client side caching support",
    )
    .complexity("O(1). Some options may introduce additional complexity.")
    .syntax(
        "status=(ON | OFF) [REDIRECT client-id:integer] [PREFIX \
                                           prefix{mt}...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
    );
pub const CACHING: CommandSpec = CommandSpec::new("caching", 3, FLAGS, client_caching)
    .doc(
        Group::Connection,
        "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
    )
    .syntax("mode=(YES | NO)");
pub const GETREDIR: CommandSpec = CommandSpec::new("getredir", 2, FLAGS, client_getredir).doc(
    Group::Connection,
    "6.0.0",
    "Get tracking notifications redirection client ID if any",
);
pub const TRACKINGINFO: CommandSpec =
    CommandSpec::new("trackinginfo", 2, FLAGS, client_trackinginfo).doc(
        Group::Connection,
        "6.2.0",
        "Return information about server assisted client side caching for the current connection",
    );

/// CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX prefix...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]
fn client_tracking(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut options = Options::default();
    let mut redirect = None;
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut i = 3;
    while i < ctx.arg_count() {
        let more = i + 1 < ctx.arg_count();
        if ctx.arg_is(i, "REDIRECT") && more {
            i += 1;
            if redirect.is_some() {
                return Err(CommandError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            let id = ctx.arg_i64(i)?;
            // The target must exist now, though it may go away later.
            let target = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.server.clients.get(id))
                .ok_or_else(|| {
                    CommandError::err("The client ID you want redirect to does not exist")
                })?;
            redirect = Some(target);
        } else if ctx.arg_is(i, "BCAST") {
            options.bcast = true;
        } else if ctx.arg_is(i, "OPTIN") {
            options.optin = true;
        } else if ctx.arg_is(i, "OPTOUT") {
            options.optout = true;
        } else if ctx.arg_is(i, "NOLOOP") {
            options.noloop = true;
        } else if ctx.arg_is(i, "PREFIX") && more {
            i += 1;
            prefixes.push(ctx.arg(i));
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if ctx.arg_is(2, "OFF") {
        super::reset(ctx.server, ctx.client);
        ctx.out.ok();
        return Ok(());
    }
    if !ctx.arg_is(2, "ON") {
        return Err(CommandError::Syntax);
    }
    let current = ctx.client.tracking.on;
    if !options.bcast && !prefixes.is_empty() {
        return Err(CommandError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if current.is_some_and(|c| c.bcast != options.bcast) {
        return Err(CommandError::err(
            "You can't switch BCAST mode on/off before disabling tracking for this client, and \
             then re-enabling it with a different mode.",
        ));
    }
    if options.bcast && (options.optin || options.optout) {
        return Err(CommandError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if options.optin && options.optout {
        return Err(CommandError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if current.is_some_and(|c| (options.optin && c.optout) || (options.optout && c.optin)) {
        return Err(CommandError::err(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and \
             then re-enabling it with a different mode.",
        ));
    }
    if options.bcast {
        let overlap = ctx
            .server
            .tracking
            .with_prefixes_of(ctx.client.handle.id, |existing| {
                prefix_overlap(existing, &prefixes)
            });
        match overlap {
            Overlap::None => {}
            Overlap::Fatal(error) => return Err(error),
            // Redis 7.0 replies with the error and then, as its check reports success for any
            // but the first prefix, enables tracking and replies OK too.
            Overlap::Reported(error) => {
                ctx.client.stats.count_error(&error.to_string());
                ctx.out.error_bytes(&error.reply_text());
            }
        }
    }
    ctx.client.tracking.prefixes =
        ctx.server
            .tracking
            .enable(&ctx.client.handle, options, redirect, &prefixes);
    // CACHING's flag survives, as Redis's `enableTracking` leaves it.
    ctx.client.tracking.on = Some(options);
    ctx.out.ok();
    Ok(())
}

enum Overlap {
    None,
    /// The command fails.
    Fatal(CommandError),
    /// The error is sent, and the command goes on.
    Reported(CommandError),
}

/// Redis's check that no two prefixes of a client are prefixes of one another: each new one
/// against those the client has (the first in byte order that overlaps, as Redis walks its
/// radix tree), then against the new ones after it (the first in argument order). Redis
/// compares every pair; searches of the sorted prefixes give the same answers, a few steps
/// each, so one call can add thousands.
fn prefix_overlap(existing: &BTreeSet<Box<[u8]>>, new: &[&[u8]]) -> Overlap {
    let mut distinct = BTreeSet::new();
    let repeated: BTreeSet<&[u8]> = new
        .iter()
        .copied()
        .filter(|p| !distinct.insert(*p))
        .collect();
    for (i, prefix) in new.iter().enumerate() {
        if let Some(old) = first_overlapping(existing, prefix) {
            return Overlap::Fatal(overlap_error(prefix, old, "an existing prefix"));
        }
        // `prefix` itself is the one member of `distinct` of its length that overlaps it.
        let overlaps_another = repeated.contains(prefix)
            || members_starting(&distinct, prefix)
                .iter()
                .any(|&len| len < prefix.len())
            || first_extension(&distinct, prefix).is_some();
        if !overlaps_another {
            continue;
        }
        // The other one comes after `prefix`: one before it would have been reported first.
        let overlaps = |other: &&&[u8]| other.starts_with(prefix) || prefix.starts_with(other);
        if let Some(other) = new[i + 1..].iter().find(overlaps) {
            let error = overlap_error(prefix, other, "another provided prefix");
            return match i {
                0 => Overlap::Fatal(error),
                _ => Overlap::Reported(error),
            };
        }
    }
    Overlap::None
}

/// The first member of `sorted` in byte order that overlaps `prefix`: the shortest one it
/// starts with, else the first one that starts with it.
fn first_overlapping<'s, K: Borrow<[u8]> + Ord>(
    sorted: &'s BTreeSet<K>,
    prefix: &'s [u8],
) -> Option<&'s [u8]> {
    match members_starting(sorted, prefix).last() {
        Some(&len) => Some(&prefix[..len]),
        None => first_extension(sorted, prefix),
    }
}

/// The lengths of the members of `sorted` that `text` starts with, longest first.
fn members_starting<K: Borrow<[u8]> + Ord>(sorted: &BTreeSet<K>, text: &[u8]) -> Vec<usize> {
    super::member_prefix_lengths(text, |bound| {
        let mut at_or_before = sorted.range::<[u8], _>((Unbounded, Included(bound)));
        at_or_before.next_back().map(Borrow::borrow)
    })
}

/// The first member of `sorted` longer than `prefix` that starts with it: those follow it at
/// once in byte order.
fn first_extension<'s, K: Borrow<[u8]> + Ord>(
    sorted: &'s BTreeSet<K>,
    prefix: &[u8],
) -> Option<&'s [u8]> {
    let after = sorted
        .range::<[u8], _>((Excluded(prefix), Unbounded))
        .next();
    after
        .map(Borrow::borrow)
        .filter(|longer| longer.starts_with(prefix))
}

/// The overlap error, quoting the prefixes as Redis's `%s` does: up to a NUL byte, with line
/// breaks made spaces.
fn overlap_error(prefix: &[u8], other: &[u8], which: &str) -> CommandError {
    let quoted = |text: &[u8]| -> Vec<u8> {
        text.iter()
            .take_while(|&&b| b != 0)
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect()
    };
    let mut line = b"ERR Prefix '".to_vec();
    line.extend(quoted(prefix));
    line.extend_from_slice(format!("' overlaps with {which} '").as_bytes());
    line.extend(quoted(other));
    line.extend_from_slice(b"'. Prefixes for a single client must not overlap.");
    CommandError::Raw(line)
}

/// CLIENT CACHING YES|NO
fn client_caching(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(options) = ctx.client.tracking.on else {
        return Err(CommandError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or \
             OPTOUT mode enabled",
        ));
    };
    if ctx.arg_is(2, "YES") {
        if !options.optin {
            return Err(CommandError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if ctx.arg_is(2, "NO") {
        if !options.optout {
            return Err(CommandError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CommandError::Syntax);
    }
    ctx.client.tracking.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirect target's id, 0 without one, -1 when tracking is off.
fn client_getredir(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out
        .integer(ctx.client.handle.tracking_redirect.load(Relaxed));
    Ok(())
}

/// CLIENT TRACKINGINFO: a map of `flags` (a set), `redirect` and `prefixes`.
fn client_trackinginfo(ctx: &mut Ctx<'_>) -> CmdResult {
    let id = ctx.client.handle.id;
    let (broken, prefixes) = ctx.server.tracking.info_of(id);
    let mut flags = Vec::new();
    match ctx.client.tracking.on {
        None => flags.push("off"),
        Some(options) => {
            flags.push("on");
            let caching = ctx.client.tracking.caching;
            if options.bcast {
                flags.push("bcast");
            }
            if options.optin {
                flags.push("optin");
                if caching {
                    flags.push("caching-yes");
                }
            }
            if options.optout {
                flags.push("optout");
                if caching {
                    flags.push("caching-no");
                }
            }
            if options.noloop {
                flags.push("noloop");
            }
            if broken {
                flags.push("broken_redirect");
            }
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for flag in flags {
        ctx.out.bulk(flag.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out
        .integer(ctx.client.handle.tracking_redirect.load(Relaxed));
    ctx.out.bulk(b"prefixes");
    ctx.out.array(prefixes.len());
    for prefix in &prefixes {
        ctx.out.bulk(prefix);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(overlap: Overlap) -> String {
        match overlap {
            Overlap::None => "none".into(),
            Overlap::Fatal(e) => format!("fatal: {e}"),
            Overlap::Reported(e) => format!("reported: {e}"),
        }
    }

    fn set(prefixes: &[&[u8]]) -> BTreeSet<Box<[u8]>> {
        prefixes.iter().map(|p| (*p).into()).collect()
    }

    #[test]
    fn overlapping_prefixes_are_found_as_redis_checks_them() {
        assert_eq!(text(prefix_overlap(&none(), &[b"a", b"b"])), "none");
        assert!(text(prefix_overlap(&none(), &[b"ab", b"a"]))
            .starts_with("fatal: ERR Prefix 'ab' overlaps with another provided prefix 'a'"));
        assert!(text(prefix_overlap(&none(), &[b"a", b"b", b"bc"]))
            .starts_with("reported: ERR Prefix 'b'"));
        assert!(text(prefix_overlap(&set(&[b"x"]), &[b"y", b"xy"]))
            .starts_with("fatal: ERR Prefix 'xy' overlaps with an existing prefix 'x'"));
        assert!(text(prefix_overlap(&set(&[b""]), &[b"q"])).starts_with("fatal"));
    }

    #[test]
    fn the_overlap_named_is_the_one_redis_names() {
        // Existing ones: the first in byte order, whether shorter or longer.
        let existing = set(&[b"ab", b"abc", b"abd", b"b"]);
        assert!(text(prefix_overlap(&existing, &[b"a"]))
            .starts_with("fatal: ERR Prefix 'a' overlaps with an existing prefix 'ab'"));
        assert!(text(prefix_overlap(&existing, &[b"abcd"]))
            .starts_with("fatal: ERR Prefix 'abcd' overlaps with an existing prefix 'ab'"));
        assert!(text(prefix_overlap(&set(&[b"a", b"ab"]), &[b"ab"]))
            .starts_with("fatal: ERR Prefix 'ab' overlaps with an existing prefix 'a'"));
        // New ones: the first after it in argument order; repeats overlap too.
        assert!(text(prefix_overlap(&none(), &[b"x", b"a", b"abc", b"ab"]))
            .starts_with("reported: ERR Prefix 'a' overlaps with another provided prefix 'abc'"));
        assert!(text(prefix_overlap(&none(), &[b"x", b"y", b"x"]))
            .starts_with("fatal: ERR Prefix 'x' overlaps with another provided prefix 'x'"));
        assert!(text(prefix_overlap(&none(), &[b"ac", b"ab", b"a"]))
            .starts_with("fatal: ERR Prefix 'ac' overlaps with another provided prefix 'a'"));
        // Each prefix in turn: against the existing ones, then the new ones.
        assert!(text(prefix_overlap(&set(&[b"ab"]), &[b"a", b"abc"]))
            .starts_with("fatal: ERR Prefix 'a' overlaps with an existing prefix 'ab'"));
        assert!(
            text(prefix_overlap(&set(&[b"q"]), &[b"x", b"a", b"ab", b"qr"]))
                .starts_with("reported: ERR Prefix 'a' overlaps with another provided prefix 'ab'")
        );
        assert!(text(prefix_overlap(&set(&[b"q"]), &[b"qr", b"a", b"ab"]))
            .starts_with("fatal: ERR Prefix 'qr' overlaps with an existing prefix 'q'"));
    }

    fn none() -> BTreeSet<Box<[u8]>> {
        BTreeSet::new()
    }

    /// Redis's check as it runs: every new prefix against every existing one in byte order,
    /// then against every later new one.
    fn pairwise(existing: &BTreeSet<Box<[u8]>>, new: &[&[u8]]) -> Overlap {
        let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        for (i, prefix) in new.iter().enumerate() {
            if let Some(old) = existing.iter().find(|old| overlaps(old, prefix)) {
                return Overlap::Fatal(overlap_error(prefix, old, "an existing prefix"));
            }
            if let Some(other) = new[i + 1..].iter().find(|other| overlaps(prefix, other)) {
                let error = overlap_error(prefix, other, "another provided prefix");
                return match i {
                    0 => Overlap::Fatal(error),
                    _ => Overlap::Reported(error),
                };
            }
        }
        Overlap::None
    }

    proptest::proptest! {
        #[test]
        fn the_searches_answer_as_redis_pairwise_check_does(
            existing in proptest::collection::btree_set(
                proptest::collection::vec(0u8..4, 0..4), 0..8),
            new in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 0..6),
        ) {
            let existing: BTreeSet<Box<[u8]>> = existing.into_iter().map(Into::into).collect();
            let new: Vec<&[u8]> = new.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(
                text(prefix_overlap(&existing, &new)),
                text(pairwise(&existing, &new))
            );
        }
    }
}
