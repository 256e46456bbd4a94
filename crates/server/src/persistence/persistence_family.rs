//! Persistence commands: SAVE, BGSAVE, LASTSAVE and BGREWRITEAOF (the work is done in
//! `persistence::rdb` and `persistence::aof`).

use std::sync::atomic::Ordering::Relaxed;

use crate::command::acl;
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::persistence::rdb::{self, Busy, SaveError};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "save",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        save,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "Synchronously save the dataset to disk",
    )
    .complexity("O(N) where N is the total number of keys in all databases")
    .acl(acl::ADMIN | acl::DANGEROUS),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, bgsave)
        .doc(
            Group::Server,
            "1.0.0",
            "Asynchronously save the dataset to disk",
        )
        .complexity("O(1)")
        .syntax("[SCHEDULE{s=3.2.2}]")
        .acl(acl::ADMIN | acl::DANGEROUS)
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")]),
    CommandSpec::new(
        "bgrewriteaof",
        1,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING,
        bgrewriteaof,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "Asynchronously rewrite the append-only file",
    )
    .complexity("O(1)")
    .acl(acl::ADMIN | acl::DANGEROUS),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST, lastsave)
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Server,
            "1.0.0",
            "Get the UNIX time stamp of the last successful save to disk",
        )
        .acl(acl::ADMIN | acl::DANGEROUS),
];

const SAVE_IN_PROGRESS: &str = "Background save already in progress";

/// SAVE
fn save(ctx: &mut Ctx<'_>) -> CmdResult {
    // An AOF rewrite holds the snapshot: SAVE waits it out, as Redis's SAVE runs beside it.
    let saved = loop {
        match rdb::save(ctx.server) {
            Err(SaveError::Busy(Busy::AofRewrite)) => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => break other,
        }
    };
    match saved {
        Ok(()) => {
            ctx.out.ok();
            Ok(())
        }
        Err(SaveError::Busy(_)) => Err(CommandError::err(SAVE_IN_PROGRESS)),
        Err(SaveError::Io(_)) => Err(CommandError::coded("ERR")),
    }
}

/// BGSAVE [SCHEDULE]
fn bgsave(ctx: &mut Ctx<'_>) -> CmdResult {
    let schedule = match ctx.arg_count() {
        1 => false,
        2 if ctx.arg_is(1, "SCHEDULE") => true,
        _ => return Err(CommandError::Syntax),
    };
    let persistence = &ctx.server.persistence;
    let busy = match persistence.current() {
        Some((kind, _, _)) => Some(Busy::from(kind)),
        // A cut inside a transaction would split it: wait until EXEC is over, as Redis does.
        None if ctx.client.mode.nested() => Some(Busy::AofRewrite),
        None => rdb::bgsave(ctx.server).err(),
    };
    match busy {
        None => ctx.out.simple("Background saving started"),
        Some(Busy::Snapshot) => return Err(CommandError::err(SAVE_IN_PROGRESS)),
        Some(Busy::AofRewrite) if schedule || ctx.client.mode.nested() => {
            persistence.bgsave_scheduled.store(true, Relaxed);
            ctx.out.simple("Background saving scheduled");
        }
        Some(Busy::AofRewrite) => {
            return Err(CommandError::err(
                "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order \
                 to schedule a BGSAVE whenever possible.",
            ))
        }
    }
    Ok(())
}

/// BGREWRITEAOF
fn bgrewriteaof(ctx: &mut Ctx<'_>) -> CmdResult {
    let rewrite = &ctx.server.aof.rewrite;
    // A rewrite queued behind a BGSAVE, or a transaction, starts when they are done.
    let waits = ctx.server.persistence.current().is_some() || ctx.client.mode.nested();
    rewrite.start(&ctx.server.aof, !waits)?;
    ctx.out.simple(if waits {
        "Background append only file rewriting scheduled"
    } else {
        "Background append only file rewriting started"
    });
    Ok(())
}

/// LASTSAVE
fn lastsave(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out
        .integer(ctx.server.persistence.lastsave.load(Relaxed) as i64);
    Ok(())
}
