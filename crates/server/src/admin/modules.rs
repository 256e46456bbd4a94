//! MODULE: redis-lite cannot load Redis modules (C shared objects built against Redis's module
//! API), so it answers the way Redis answers when no module is loaded and a load fails, and
//! keeps LOAD/LOADEX/UNLOAD behind `enable-module-command` as Redis does.

use crate::args::reply_help;
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

/// LOAD, LOADEX and UNLOAD: NO_ASYNC_LOADING as in Redis.
const CHANGE_FLAGS: u32 = ADMIN | NOSCRIPT | NO_ASYNC_LOADING;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("module", SUBCOMMANDS)
    .doc(Group::Server, "4.0.0", "A container for module commands")
    .complexity("Depends on subcommand.")];

static SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", -3, CHANGE_FLAGS, module_load)
        .doc(Group::Server, "4.0.0", "Load a module")
        .syntax("path [arg...]"),
    CommandSpec::new("list", 2, ADMIN | NOSCRIPT, module_list)
        .doc(
            Group::Server,
            "4.0.0",
            "List all modules loaded by the server",
        )
        .complexity("O(N) where N is the number of loaded modules.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("help", 2, LOADING | STALE, module_help).doc(
        Group::Server,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
    CommandSpec::new("unload", 3, CHANGE_FLAGS, module_unload)
        .doc(Group::Server, "4.0.0", "Unload a module")
        .syntax("name"),
    CommandSpec::new("loadex", -3, CHANGE_FLAGS, module_loadex)
        .doc(
            Group::Server,
            "7.0.0",
            "Load a module with extended parameters",
        )
        .syntax("path [CONFIG configs=(name value){mt}...] [ARGS args=(arg){block}...]"),
];

/// What Redis answers to any failed load; the reason goes to the log.
const LOAD_FAILED: &str = "Error loading the extension. Please check the server logs.";

/// LOAD, LOADEX and UNLOAD run only where `enable-module-command` allows (LIST and HELP always).
fn check_allowed(ctx: &Ctx<'_>) -> CmdResult {
    let mode = ctx.server.config.read().enable_module_command;
    if mode.permits(ctx.client.handle.local) {
        Ok(())
    } else {
        Err(CommandError::NotAllowed {
            command: "MODULE",
            option: "enable-module-command",
        })
    }
}

fn log_load_failure(path: &[u8]) {
    crate::log!(
        Warning,
        "Module {} failed to load: redis-lite cannot load Redis modules (shared objects built \
         against the Redis module API)",
        String::from_utf8_lossy(path)
    );
}

/// MODULE LIST: no module is ever loaded.
fn module_list(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// MODULE LOAD path [arg ...]
fn module_load(ctx: &mut Ctx<'_>) -> CmdResult {
    check_allowed(ctx)?;
    log_load_failure(ctx.arg(2));
    Err(CommandError::err(LOAD_FAILED))
}

/// MODULE LOADEX path [CONFIG name value ...] [ARGS arg ...]: the arguments are checked as
/// Redis checks them (and a bad one logged the same way), then the load fails.
fn module_loadex(ctx: &mut Ctx<'_>) -> CmdResult {
    check_allowed(ctx)?;
    let mut i = 3;
    while i < ctx.arg_count() {
        if ctx.arg_is(i, "CONFIG") && i + 2 < ctx.arg_count() {
            i += 3;
        } else if ctx.arg_is(i, "ARGS") {
            break;
        } else {
            crate::log!(
                Notice,
                "Syntax Error from arguments to loadex around {}.",
                String::from_utf8_lossy(ctx.arg(i))
            );
            return Err(CommandError::err(LOAD_FAILED));
        }
    }
    log_load_failure(ctx.arg(2));
    Err(CommandError::err(LOAD_FAILED))
}

/// MODULE UNLOAD name
fn module_unload(ctx: &mut Ctx<'_>) -> CmdResult {
    check_allowed(ctx)?;
    Err(CommandError::err(
        "Error unloading module: no such module with that name",
    ))
}

/// MODULE HELP
fn module_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}
