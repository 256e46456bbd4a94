//! A fuzzing run: both servers started once, then for each seed a stream of random commands
//! sent to both over their own connections (pipelined in small batches), every reply compared
//! under its [`ReplyCheck`], `DEBUG DIGEST` compared every few commands, and the dataset
//! flushed every episode so that a divergence's history is short. A divergence is replayed on
//! flushed servers over fresh connections while delta debugging shortens it.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rand::rngs::StdRng;
use rand::SeedableRng;
use redis_lite_testkit::{encode, Raw, Reply, Server};

use crate::docs::{read_models, CommandModel};
use crate::generate::{Generator, SCRIPTS};
use crate::minimise::{command_line, minimise};
use crate::policy::{fuzzed, verdict, ReplyCheck, Transaction, Verdict};

/// Commands sent before their replies are read.
const BATCH: usize = 20;

/// Replays delta debugging may spend on one divergence.
const MINIMISE_BUDGET: usize = 400;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub first_seed: u64,
    pub seeds: u64,
    /// Commands per seed and protocol.
    pub commands: u64,
    /// RESP2, RESP3 or both (each seed runs once per protocol).
    pub protocols: Vec<u8>,
    /// `DEBUG DIGEST` is compared after (about) this many commands.
    pub digest_every: usize,
    /// The dataset is flushed after this many commands.
    pub episode: usize,
    /// Whether to go on after a divergence (each kind is reported once).
    pub keep_going: bool,
    /// Parameters set with CONFIG SET on both servers first (small encoding limits, to reach
    /// conversions sooner).
    pub config: Vec<(String, String)>,
    /// Whether to print each divergence as it is found, and a line per seed.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            first_seed: 1,
            seeds: 1,
            commands: 10_000,
            protocols: vec![2, 3],
            digest_every: 100,
            episode: 500,
            keep_going: false,
            config: Vec::new(),
            verbose: false,
        }
    }
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub commands: u64,
    /// Each distinct divergence's reproduction.
    pub divergences: Vec<String>,
    /// Divergences of a kind already reported.
    pub repeats: u64,
    /// Commands Redis refused (an error reply): the share of the run that tested error paths.
    pub refused: u64,
    /// Per command: how many were sent, and how many Redis refused. A command Redis always
    /// refused had only its error paths tested.
    pub per_command: BTreeMap<String, (u64, u64)>,
}

/// One generated command and how its reply is compared.
#[derive(Clone, Debug)]
struct Step {
    args: Vec<Vec<u8>>,
    check: ReplyCheck,
    /// The command's index in the models, and its name.
    model: usize,
    name: String,
}

/// `steps` with their checks worked out again for this sequence: a transaction's EXEC
/// compares the commands queued in it, which delta debugging may have dropped.
fn rechecked(models: &[CommandModel], steps: &[Step]) -> Vec<Step> {
    let mut transaction = Transaction::default();
    steps
        .iter()
        .map(|step| Step {
            check: transaction.check(&models[step.model], &step.args),
            ..step.clone()
        })
        .collect()
}

/// Where two servers first disagreed while running a sequence.
#[derive(Debug)]
struct Mismatch {
    /// The command whose reply differs, or None for the digest after the sequence.
    at: Option<usize>,
    redis: Vec<u8>,
    lite: Vec<u8>,
}

/// Real Redis and redis-lite side by side.
struct Pair {
    redis: Server,
    lite: Server,
}

impl Pair {
    /// One connection to each, in the protocol asked for, on a flushed dataset.
    fn connect(&self, protocol: u8) -> (Raw, Raw) {
        let (mut a, mut b) = (self.redis.raw(), self.lite.raw());
        for raw in [&mut a, &mut b] {
            if protocol == 3 {
                raw.cmd(&["HELLO", "3"]);
            }
            // Scripts and functions from an earlier episode would make replies depend on it.
            raw.cmd(&["FLUSHALL"]);
            raw.cmd(&["SCRIPT", "FLUSH"]);
            raw.cmd(&["FUNCTION", "FLUSH"]);
        }
        (a, b)
    }
}

/// Runs `options`: starts real Redis and redis-lite, or returns None when Redis is missing.
pub fn run(options: &Options) -> Option<Report> {
    let redis = Server::redis(&[])?;
    // Both without persistence: Server::redis starts Redis with `--save "" --appendonly no`.
    let lite = Server::lite(&[
        "--enable-debug-command",
        "yes",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    let pair = Pair { redis, lite };
    // Expired keys are reclaimed only when a command touches them: the background expiry
    // cycle runs on each server's own timer, and DBSIZE counts a key until it is reclaimed.
    for server in [&pair.redis, &pair.lite] {
        let mut raw = server.raw();
        raw.ok(&[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]);
        for (name, value) in &options.config {
            raw.ok(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
        }
    }
    let models = fuzzed(read_models(&mut pair.redis.raw()));
    let payloads = dump_payloads(&mut pair.redis.raw());
    // The scripts' digests, from Redis (one script does not compile: it has none).
    let mut redis = pair.redis.raw();
    let shas: Vec<Vec<u8>> = SCRIPTS
        .iter()
        .filter_map(|script| {
            redis.send(&encode(&[b"SCRIPT", b"LOAD", script.as_bytes()]));
            match Reply::parse(&redis.read_reply()) {
                Reply::Bulk(Some(sha)) => Some(sha),
                _ => None,
            }
        })
        .collect();
    let mut report = Report::default();
    let mut seen = HashSet::new();
    for seed in options.first_seed..options.first_seed + options.seeds {
        for &protocol in &options.protocols {
            let before = report.divergences.len();
            let generator = Generator::new(StdRng::seed_from_u64(seed))
                .with_payloads(payloads.clone())
                .with_shas(shas.clone());
            let servers_lost = run_seed(
                &pair,
                &models,
                generator,
                options,
                (seed, protocol),
                &mut report,
                &mut seen,
            );
            if options.verbose {
                for divergence in &report.divergences[before..] {
                    println!("DIVERGENCE {divergence}");
                }
                eprintln!(
                    "seed {seed} RESP{protocol}: {} commands in all, {} divergences",
                    report.commands,
                    report.divergences.len()
                );
            }
            if servers_lost || (report.divergences.len() > before && !options.keep_going) {
                return Some(report);
            }
        }
    }
    Some(report)
}

/// Values of every type and encoding, DUMPed by real Redis (then flushed): RESTORE's payloads.
fn dump_payloads(redis: &mut Raw) -> Vec<Vec<u8>> {
    let many: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let writes: &[&[&str]] = &[
        &["SET", "p:string", "hello"],
        &["SET", "p:int", "12345"],
        &["RPUSH", "p:list", "a", "b", "1"],
        &["SADD", "p:intset", "1", "2", "3"],
        &["SADD", "p:set", "a", "b"],
        &["HSET", "p:hash", "f", "v"],
        &["ZADD", "p:zset", "1", "a", "2.5", "b"],
        &["XADD", "p:stream", "1-1", "f", "v"],
        &["XGROUP", "CREATE", "p:stream", "g1", "0"],
        &["PFADD", "p:hll", "a", "b", "c"],
        &[&["SADD", "p:bigset"][..], &many[..]].concat(),
        &[&["RPUSH", "p:biglist"][..], &many[..]].concat(),
    ];
    for write in writes {
        redis.cmd(write);
    }
    let keys = [
        "p:string",
        "p:int",
        "p:list",
        "p:intset",
        "p:set",
        "p:hash",
        "p:zset",
        "p:stream",
        "p:hll",
        "p:bigset",
        "p:biglist",
    ];
    let payloads = keys
        .iter()
        .map(|key| redis.ok(&[b"DUMP", key.as_bytes()]).bytes())
        .collect();
    redis.cmd(&["FLUSHALL"]);
    payloads
}

/// Runs one seed in one protocol. True when a server stopped answering (the run cannot go on).
fn run_seed(
    pair: &Pair,
    models: &[CommandModel],
    mut generator: Generator,
    options: &Options,
    (seed, protocol): (u64, u8),
    report: &mut Report,
    seen: &mut HashSet<String>,
) -> bool {
    let mut sent = 0;
    while sent < options.commands {
        let (mut a, mut b) = pair.connect(protocol);
        generator.start_episode(models);
        let mut transaction = Transaction::default();
        let mut episode: Vec<Step> = Vec::new();
        let mut since_digest = 0;
        let waiting = Cell::new("");
        while episode.len() < options.episode && sent < options.commands {
            let batch: Vec<Step> = (0..BATCH)
                .map(|_| {
                    let index = generator.pick(models);
                    let model = &models[index];
                    let args = generator.command_of(models, index);
                    Step {
                        check: transaction.check(model, &args),
                        args,
                        model: index,
                        name: model.full_name(),
                    }
                })
                .collect();
            sent += batch.len() as u64;
            report.commands += batch.len() as u64;
            let first = episode.len();
            episode.extend(batch);
            since_digest += BATCH;
            let digest = since_digest >= options.digest_every;
            if digest {
                since_digest = 0;
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                exchange_noting(
                    &mut a,
                    &mut b,
                    &episode[first..],
                    digest.then_some(pair),
                    &waiting,
                )
            }));
            if let Ok(exchange) = &outcome {
                for (step, &refused) in episode[first..].iter().zip(&exchange.refused) {
                    let counts = report.per_command.entry(step.name.clone()).or_default();
                    counts.0 += 1;
                    counts.1 += refused as u64;
                    report.refused += refused as u64;
                }
            }
            let mismatch = match outcome {
                Ok(Exchange {
                    mismatch: Some(mut mismatch),
                    ..
                }) => {
                    mismatch.at = mismatch.at.map(|i| first + i);
                    mismatch
                }
                Ok(Exchange { resync: true, .. }) => break,
                Ok(_) => continue,
                Err(_) => {
                    report.divergences.push(format!(
                        "seed {seed} RESP{protocol}: no reply from {} (it closed the \
                         connection or hung) within these commands:\n{}",
                        waiting.get(),
                        listing(&episode, None)
                    ));
                    return true;
                }
            };
            let failing = match mismatch.at {
                Some(i) => episode[..=i].to_vec(),
                None => episode.clone(),
            };
            if let Some(kind) = mismatch.at.map(|i| kind_of(&episode[i], &mismatch)) {
                if !seen.insert(kind) {
                    report.repeats += 1;
                    break;
                }
            }
            let shortest = minimise(failing.clone(), MINIMISE_BUDGET, |candidate| {
                replay(pair, models, protocol, candidate).is_some()
            });
            let shortest = rechecked(models, &shortest);
            let Some(final_mismatch) = replay(pair, models, protocol, &shortest) else {
                report.divergences.push(format!(
                    "seed {seed} RESP{protocol}: a divergence that did not happen again on \
                     replay (timing?); the episode's commands:\n{}",
                    listing(&failing, Some(&mismatch))
                ));
                if !options.keep_going {
                    return false;
                }
                break;
            };
            if final_mismatch.at.is_none() {
                let last = &shortest[shortest.len() - 1];
                if !seen.insert(format!("digest after {}", last.name)) {
                    report.repeats += 1;
                    break;
                }
            }
            report.divergences.push(format!(
                "seed {seed} RESP{protocol}, {} commands minimised to {}:\n{}",
                failing.len(),
                shortest.len(),
                listing(&shortest, Some(&final_mismatch))
            ));
            if !options.keep_going {
                return false;
            }
            break;
        }
    }
    false
}

/// A divergence's kind, so that each is reported once: the command and the replies' kinds
/// (an error's text, for errors).
fn kind_of(step: &Step, mismatch: &Mismatch) -> String {
    let summary = |reply: &[u8]| -> String {
        if reply.starts_with(b"-") {
            String::from_utf8_lossy(&reply[..reply.len().min(60)]).into_owned()
        } else {
            (reply.first().copied().unwrap_or(b'?') as char).to_string()
        }
    };
    format!(
        "{} {} / {}",
        step.name,
        summary(&mismatch.redis),
        summary(&mismatch.lite)
    )
}

/// What one pipelined exchange found.
#[derive(Debug, Default)]
struct Exchange {
    /// The first reply (or the digest) that differs.
    mismatch: Option<Mismatch>,
    /// An intended difference after which the datasets may differ: the episode must end.
    resync: bool,
    /// Whether Redis refused each command (an error reply).
    refused: Vec<bool>,
}

/// Sends `steps` to both servers (pipelined) and compares the replies, then the digests when
/// given the servers (and nothing excused a difference the digest would see). The digests are
/// asked for on connections of their own: the fuzzed ones may be inside MULTI.
fn exchange(a: &mut Raw, b: &mut Raw, steps: &[Step], digest: Option<&Pair>) -> Exchange {
    exchange_noting(a, b, steps, digest, &Cell::new(""))
}

/// [`exchange`], keeping in `waiting` the name of the server whose reply is being read, so
/// that a reply that never comes can be blamed on the right one.
fn exchange_noting(
    a: &mut Raw,
    b: &mut Raw,
    steps: &[Step],
    digest: Option<&Pair>,
    waiting: &Cell<&'static str>,
) -> Exchange {
    let mut requests = Vec::new();
    for step in steps {
        let args: Vec<&[u8]> = step.args.iter().map(Vec::as_slice).collect();
        requests.extend_from_slice(&encode(&args));
    }
    a.send(&requests);
    b.send(&requests);
    let mut found = Exchange::default();
    for (i, step) in steps.iter().enumerate() {
        waiting.set("Redis");
        let expected = a.read_reply();
        waiting.set("redis-lite");
        let actual = b.read_reply();
        found.refused.push(expected.starts_with(b"-"));
        if found.mismatch.is_some() || found.resync {
            continue;
        }
        match verdict(&expected, &actual, &step.check) {
            Verdict::Same => {}
            Verdict::SameThenResync => found.resync = true,
            Verdict::Differs => {
                found.mismatch = Some(Mismatch {
                    at: Some(i),
                    redis: expected,
                    lite: actual,
                })
            }
        }
    }
    let Some(pair) = digest.filter(|_| found.mismatch.is_none() && !found.resync) else {
        return found;
    };
    waiting.set("Redis (DEBUG DIGEST)");
    let expected = pair.redis.raw().cmd(&["DEBUG", "DIGEST"]);
    waiting.set("redis-lite (DEBUG DIGEST)");
    let actual = pair.lite.raw().cmd(&["DEBUG", "DIGEST"]);
    if expected != actual {
        found.mismatch = Some(Mismatch {
            at: None,
            redis: expected,
            lite: actual,
        });
    }
    found
}

/// Runs `steps` from a flushed dataset on fresh connections, then compares the digests.
fn replay(pair: &Pair, models: &[CommandModel], protocol: u8, steps: &[Step]) -> Option<Mismatch> {
    let steps = rechecked(models, steps);
    let (mut a, mut b) = pair.connect(protocol);
    let mut done = 0;
    for chunk in steps.chunks(BATCH) {
        let last = done + chunk.len() == steps.len();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            exchange(&mut a, &mut b, chunk, last.then_some(pair))
        }));
        match outcome {
            Ok(Exchange {
                mismatch: Some(mut mismatch),
                ..
            }) => {
                mismatch.at = mismatch.at.map(|i| done + i);
                return Some(mismatch);
            }
            // An intended difference: what follows is not comparable.
            Ok(Exchange { resync: true, .. }) => return None,
            Ok(_) => done += chunk.len(),
            Err(_) => {
                return Some(Mismatch {
                    at: Some(done),
                    redis: b"(no reply)".to_vec(),
                    lite: b"(no reply)".to_vec(),
                })
            }
        }
    }
    None
}

/// The commands as redis-cli lines, the diverging one marked with both replies.
fn listing(steps: &[Step], mismatch: Option<&Mismatch>) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        out.push_str("    ");
        out.push_str(&command_line(&step.args));
        out.push('\n');
        if let Some(m) = mismatch.filter(|m| m.at == Some(i)) {
            out.push_str(&replies(m, &step.check));
        }
    }
    if let Some(m) = mismatch.filter(|m| m.at.is_none()) {
        out.push_str("    DEBUG DIGEST\n");
        out.push_str(&replies(m, &ReplyCheck::Exact));
    }
    out
}

fn replies(mismatch: &Mismatch, check: &ReplyCheck) -> String {
    format!(
        "      redis: {:?}\n      lite:  {:?}{}\n",
        String::from_utf8_lossy(&mismatch.redis),
        String::from_utf8_lossy(&mismatch.lite),
        if *check == ReplyCheck::Exact {
            String::new()
        } else {
            format!("  (compared as {check:?})")
        }
    )
}
