//! SLOWLOG and LATENCY: the slow log, the latency monitor's events (LATEST, HISTORY, GRAPH,
//! DOCTOR, RESET) and the per-command histograms (HISTOGRAM), with Redis 7.0's replies.

use crate::args::reply_help;
use crate::command::flags::*;
use crate::command::{self, CommandEntry, CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

use super::histogram::LatencyHistogram;
use super::latency::{self, DoctorSettings};

/// The flags of SLOWLOG's subcommands; LATENCY's add NOSCRIPT.
const SLOWLOG_FLAGS: u32 = ADMIN | LOADING | STALE;
const LATENCY_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container(
        "slowlog",
        &[
            CommandSpec::new("reset", 2, SLOWLOG_FLAGS, slowlog_reset)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(Group::Server, "2.2.12", "Clear all entries from the slow log")
                .complexity("O(N) where N is the number of entries in the slowlog"),
            CommandSpec::new("len", 2, SLOWLOG_FLAGS, slowlog_len)
                .tips(&[
                    "request_policy:all_nodes",
                    "response_policy:agg_sum",
                    "nondeterministic_output",
                ])
                .doc(Group::Server, "2.2.12", "Get the slow log's length")
                .complexity("O(1)"),
            CommandSpec::new("get", -2, SLOWLOG_FLAGS, slowlog_get)
                .tips(&["request_policy:all_nodes", "nondeterministic_output"])
                .doc(Group::Server, "2.2.12", "Get the slow log's entries")
                .complexity("O(N) where N is the number of entries returned")
                .syntax("[count:integer]")
                .history(&[
                    ("4.0.0", "Added client IP address, port and name to the reply."),
                ]),
            CommandSpec::new("help", 2, LOADING | STALE, slowlog_help)
                .doc(
                    Group::Server,
                    "6.2.0",
                    "Show helpful text about the different subcommands",
                )
                .complexity("O(1)"),
        ],
    )
    .doc(Group::Server, "2.2.12", "A container for slow log commands")
    .complexity("Depends on subcommand."),
    CommandSpec::container(
        "latency",
        &[
            CommandSpec::new("reset", -2, LATENCY_FLAGS, latency_reset)
                .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
                .doc(
                    Group::Server,
                    "2.8.13",
                    "Reset latency data for one or more events.",
                )
                .complexity("O(1)")
                .syntax("[event...]"),
            CommandSpec::new("histogram", -2, LATENCY_FLAGS, latency_histogram)
                .tips(&[
                    "nondeterministic_output",
                    "request_policy:all_nodes",
                    "response_policy:special",
                ])
                .doc(
                    Group::Server,
                    "7.0.0",
                    "Return the cumulative distribution of latencies of a subset of commands or all.",
                )
                .complexity("O(N) where N is the number of commands with latency information being retrieved.")
                .syntax("[command...]"),
            CommandSpec::new("latest", 2, LATENCY_FLAGS, latency_latest)
                .tips(LATENCY_READ_TIPS)
                .doc(
                    Group::Server,
                    "2.8.13",
                    "Return the latest latency samples for all events.",
                )
                .complexity("O(1)"),
            CommandSpec::new("graph", 3, LATENCY_FLAGS, latency_graph)
                .tips(LATENCY_READ_TIPS)
                .doc(Group::Server, "2.8.13", "Return a latency graph for the event.")
                .complexity("O(1)")
                .syntax("event"),
            CommandSpec::new("doctor", 2, LATENCY_FLAGS, latency_doctor)
                .tips(LATENCY_READ_TIPS)
                .doc(
                    Group::Server,
                    "2.8.13",
                    "Return a human readable latency analysis report.",
                )
                .complexity("O(1)"),
            CommandSpec::new("history", 3, LATENCY_FLAGS, latency_history)
                .tips(LATENCY_READ_TIPS)
                .doc(
                    Group::Server,
                    "2.8.13",
                    "Return timestamp-latency samples for the event.",
                )
                .complexity("O(1)")
                .syntax("event"),
            CommandSpec::new("help", 2, LOADING | STALE, latency_help)
                .doc(
                    Group::Server,
                    "2.8.13",
                    "Show helpful text about the different subcommands.",
                )
                .complexity("O(1)"),
        ],
    )
    .doc(
        Group::Server,
        "2.8.13",
        "A container for latency diagnostics commands",
    )
    .complexity("Depends on subcommand."),
];

const LATENCY_READ_TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
fn slowlog_get(ctx: &mut Ctx<'_>) -> CmdResult {
    const COUNT_ERROR: &str = "count should be greater than or equal to -1";
    let count = match ctx.arg_count() {
        2 => Some(10),
        3 => match ctx.arg_i64(2) {
            Ok(-1) => None,
            Ok(n) if n >= 0 => Some(n as usize),
            _ => return Err(CommandError::err(COUNT_ERROR)),
        },
        _ => {
            return Err(CommandError::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
                String::from_utf8_lossy(ctx.arg(1))
            )))
        }
    };
    let out = &mut ctx.out;
    ctx.server.observability.slowlog.newest(count, |entries| {
        out.array(entries.len());
        for entry in entries {
            out.array(6);
            out.integer(entry.id as i64);
            out.integer(entry.time as i64);
            out.integer(entry.duration_us as i64);
            out.array(entry.args.len());
            for arg in &entry.args {
                out.bulk(arg);
            }
            out.bulk(entry.addr.as_bytes());
            out.bulk(&entry.name);
        }
    });
    Ok(())
}

/// SLOWLOG LEN
fn slowlog_len(ctx: &mut Ctx<'_>) -> CmdResult {
    let len = ctx.server.observability.slowlog.entries();
    ctx.out.integer(len as i64);
    Ok(())
}

/// SLOWLOG RESET
fn slowlog_reset(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.observability.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

/// LATENCY LATEST: each event's latest sample and all-time high.
fn latency_latest(ctx: &mut Ctx<'_>) -> CmdResult {
    let out = &mut ctx.out;
    ctx.server.observability.latency.with_events(|events| {
        out.array(events.len());
        for (event, series) in events {
            let latest = series.latest();
            out.array(4);
            out.bulk(event.as_bytes());
            out.integer(latest.time as i64);
            out.integer(latest.latency_ms as i64);
            out.integer(series.max_ms as i64);
        }
    });
    Ok(())
}

/// LATENCY HISTORY event: the event's samples, oldest first; none for an unknown event.
fn latency_history(ctx: &mut Ctx<'_>) -> CmdResult {
    let out = &mut ctx.out;
    let event = ctx.args[2];
    let found = ctx
        .server
        .observability
        .latency
        .with_event(event, |_, series| {
            let samples: Vec<_> = series.samples().collect();
            out.array(samples.len());
            for sample in samples {
                out.array(2);
                out.integer(sample.time as i64);
                out.integer(sample.latency_ms as i64);
            }
        });
    if found.is_none() {
        ctx.out.array(0);
    }
    Ok(())
}

/// LATENCY GRAPH event
fn latency_graph(ctx: &mut Ctx<'_>) -> CmdResult {
    let event = ctx.args[2];
    let now = latency::unix_secs();
    let graph = ctx
        .server
        .observability
        .latency
        .with_event(event, |name, series| latency::graph(name, series, now))
        .ok_or_else(|| no_samples(event))?;
    ctx.out.verbatim(b"txt", graph.as_bytes());
    Ok(())
}

fn no_samples(event: &[u8]) -> CommandError {
    let mut line = b"ERR No samples available for event '".to_vec();
    line.extend_from_slice(event);
    line.push(b'\'');
    CommandError::Raw(line)
}

/// LATENCY DOCTOR
fn latency_doctor(ctx: &mut Ctx<'_>) -> CmdResult {
    let settings = {
        let config = ctx.server.config.read();
        DoctorSettings {
            threshold_ms: ctx.server.observability.latency.threshold_ms(),
            slowlog_slower_than_us: config.observability.slowlog_log_slower_than,
            slowlog_max_len: config.observability.slowlog_max_len,
            hz: config.hz as u64,
        }
    };
    let report = latency::doctor(
        &ctx.server.observability.latency,
        &settings,
        latency::unix_secs(),
    );
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// LATENCY RESET [event ...]: how many events were reset.
fn latency_reset(ctx: &mut Ctx<'_>) -> CmdResult {
    let monitor = &ctx.server.observability.latency;
    let reset = match ctx.arg_count() {
        2 => monitor.reset_all(),
        _ => ctx.args[2..].iter().filter(|e| monitor.reset(e)).count(),
    };
    ctx.out.integer(reset as i64);
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: each named command's histogram (a container's: each of
/// its subcommands'), or every called command's; unknown and never-called ones are left out.
fn latency_histogram(ctx: &mut Ctx<'_>) -> CmdResult {
    let table = command::table();
    let histograms = &ctx.server.observability.histograms;
    let listed: Vec<(&CommandEntry, LatencyHistogram)> = match ctx.arg_count() {
        2 => histograms.called().collect(),
        _ => ctx.args[2..]
            .iter()
            .filter_map(|name| table.by_full_name(name))
            .flat_map(|entry| std::iter::once(entry).chain(table.subcommands(entry)))
            .filter_map(|entry| Some((entry, histograms.read(entry.id)?)))
            .collect(),
    };
    ctx.out.map(listed.len());
    for (entry, histogram) in listed {
        ctx.out.bulk(entry.full_name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.integer(histogram.calls() as i64);
        ctx.out.bulk(b"histogram_usec");
        let mut previous = 0;
        let buckets: Vec<(u64, u64)> = histogram
            .buckets()
            .into_iter()
            .filter(|&(_, cumulative)| std::mem::replace(&mut previous, cumulative) < cumulative)
            .collect();
        ctx.out.map(buckets.len());
        for (usec, cumulative) in buckets {
            ctx.out.integer(usec as i64);
            ctx.out.integer(cumulative as i64);
        }
    }
    Ok(())
}

fn latency_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}
